package io.gpucloud.placement.filter;

import io.gpucloud.placement.HostFilter;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.PlacementRequest;

/** The request's host list, when it has one. */
public final class HostIdFilter implements HostFilter {

    public static final String NAME = "host-ids";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean admit(PlacementRequest request, HostView host) {
        return request.hostIds().isEmpty() || request.hostIds().contains(host.snapshot().hostId());
    }

    @Override
    public String explain(PlacementRequest request, int rejectedHosts) {
        return rejectedHosts + " are not in the requested host list";
    }
}
