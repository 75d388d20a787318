package io.gpucloud.placement.filter;

import io.gpucloud.placement.HostFilter;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.PlacementRequest;

/** GPU VMs go only to hosts of the requested catalog GPU model (any model when the request names none). */
public final class GpuModelFilter implements HostFilter {

    public static final String NAME = "gpu-model";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean admit(PlacementRequest request, HostView host) {
        if (request.gpuCount() <= 0 || request.gpuModel() == null) {
            return true;
        }
        return request.gpuModel().equalsIgnoreCase(host.snapshot().gpuModel());
    }

    @Override
    public String explain(PlacementRequest request, int rejectedHosts) {
        return rejectedHosts + " have another GPU model";
    }
}
