package io.gpucloud.placement.filter;

import io.gpucloud.placement.HostFilter;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.PlacementRequest;

/** Full-passthrough hosts (FABRIC_MODE=0) take only a VM of the whole board; an unknown fabric mode takes no GPU VM. */
public final class FabricModeFilter implements HostFilter {

    public static final String NAME = "fabric-mode";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean admit(PlacementRequest request, HostView host) {
        if (request.gpuCount() <= 0) {
            return true;
        }
        switch (host.fabricMode()) {
            case SHARED_NVSWITCH:
            case NONE:
                return true;
            case FULL_PASSTHROUGH:
                return request.gpuCount() == host.totalGpus();
            default:
                return false;
        }
    }

    @Override
    public String explain(PlacementRequest request, int rejectedHosts) {
        return rejectedHosts + " take only whole-board VMs (full passthrough) or have an unknown fabric mode";
    }
}
