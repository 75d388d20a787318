package io.gpucloud.placement.filter;

import io.gpucloud.placement.HostFilter;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.PlacementRequest;

/** Host without a fabric (PCIe GPUs): whole free IOMMU groups whose GPUs add up to exactly the request (a group with two GPUs counts as two). */
public final class IommuGroupFilter implements HostFilter {

    public static final String NAME = "gpu-iommu-groups";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean admit(PlacementRequest request, HostView host) {
        return request.gpuCount() <= 0 || host.fabricMode() != io.gpucloud.placement.FabricMode.NONE
                || !host.units().isEmpty();
    }

    @Override
    public String explain(PlacementRequest request, int rejectedHosts) {
        return rejectedHosts + " lack " + request.gpuCount() + " free GPUs in whole IOMMU groups";
    }

    @Override
    public boolean capacity() {
        return true;
    }
}
