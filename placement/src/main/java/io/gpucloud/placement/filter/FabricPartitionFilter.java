package io.gpucloud.placement.filter;

import io.gpucloud.placement.HostFilter;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.PlacementRequest;

/** Shared-NVSwitch host: a fabric partition of exactly the requested size that is available, not allocated, and none of whose member GPUs is held or unhealthy (overlapping partitions block each other through their members). */
public final class FabricPartitionFilter implements HostFilter {

    public static final String NAME = "gpu-partition";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean admit(PlacementRequest request, HostView host) {
        return request.gpuCount() <= 0 || host.fabricMode() != io.gpucloud.placement.FabricMode.SHARED_NVSWITCH
                || !host.units().isEmpty();
    }

    @Override
    public String explain(PlacementRequest request, int rejectedHosts) {
        return rejectedHosts + " lack a free " + request.gpuCount() + "-GPU partition";
    }

    @Override
    public boolean capacity() {
        return true;
    }
}
