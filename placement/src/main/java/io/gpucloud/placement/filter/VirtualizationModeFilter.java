package io.gpucloud.placement.filter;

import io.gpucloud.placement.HostFilter;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.PlacementRequest;

/** Whole-GPU VMs need a node in "passthrough" virtualization mode (not MIG, HAMi-core, ...); CPU-only VMs do not care. */
public final class VirtualizationModeFilter implements HostFilter {

    public static final String NAME = "virtualization-mode";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean admit(PlacementRequest request, HostView host) {
        return request.gpuCount() <= 0 || "passthrough".equalsIgnoreCase(host.snapshot().virtualizationMode());
    }

    @Override
    public String explain(PlacementRequest request, int rejectedHosts) {
        return rejectedHosts + " are not in passthrough mode";
    }
}
