package io.gpucloud.placement.filter;

import io.gpucloud.placement.HostFilter;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.PlacementRequest;

/** Only hosts in state "ready" take VMs. */
public final class HostStateFilter implements HostFilter {

    public static final String NAME = "host-state";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean admit(PlacementRequest request, HostView host) {
        return "ready".equalsIgnoreCase(host.snapshot().state());
    }

    @Override
    public String explain(PlacementRequest request, int rejectedHosts) {
        return rejectedHosts + " not ready";
    }
}
