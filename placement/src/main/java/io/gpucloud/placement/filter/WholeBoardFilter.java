package io.gpucloud.placement.filter;

import io.gpucloud.placement.HostFilter;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.PlacementRequest;

/** Full-passthrough host: every GPU healthy and free. */
public final class WholeBoardFilter implements HostFilter {

    public static final String NAME = "gpu-whole-board";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean admit(PlacementRequest request, HostView host) {
        return request.gpuCount() <= 0 || host.fabricMode() != io.gpucloud.placement.FabricMode.FULL_PASSTHROUGH
                || !host.units().isEmpty();
    }

    @Override
    public String explain(PlacementRequest request, int rejectedHosts) {
        return "on " + rejectedHosts + " the whole board is not free";
    }

    @Override
    public boolean capacity() {
        return true;
    }
}
