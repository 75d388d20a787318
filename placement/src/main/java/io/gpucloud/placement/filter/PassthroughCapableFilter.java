package io.gpucloud.placement.filter;

import io.gpucloud.placement.HostFilter;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.PlacementRequest;

/** Whole-GPU VMs need a host that can pass devices through (IOMMU on, vfio usable). */
public final class PassthroughCapableFilter implements HostFilter {

    public static final String NAME = "passthrough-capable";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean admit(PlacementRequest request, HostView host) {
        return request.gpuCount() <= 0 || host.snapshot().passthroughCapable();
    }

    @Override
    public String explain(PlacementRequest request, int rejectedHosts) {
        return rejectedHosts + " are not passthrough-capable";
    }
}
