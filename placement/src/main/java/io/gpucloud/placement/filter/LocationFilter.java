package io.gpucloud.placement.filter;

import io.gpucloud.placement.HostFilter;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.PlacementRequest;

/** The request's location, when it names one. */
public final class LocationFilter implements HostFilter {

    public static final String NAME = "location";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean admit(PlacementRequest request, HostView host) {
        return request.location() == null || request.location().equals(host.snapshot().location());
    }

    @Override
    public String explain(PlacementRequest request, int rejectedHosts) {
        return rejectedHosts + " are outside " + request.location();
    }
}
