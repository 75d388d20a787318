package io.gpucloud.placement;

/**
 * A filter plugin. Filters run in order; the first that rejects a host is charged with it (one
 * rejection per host, as in the Kubernetes scheduler). Capacity filters may also drop individual
 * allocation units from {@link HostView#units()} and reject the host when none is left.
 * Implementations must be stateless (decide() may run on several threads).
 */
public interface HostFilter {

    /** Stable key of {@link PlacementDecision#rejections()}. */
    String name();

    /** True if the host (with at least one of its remaining units) can take the request. */
    boolean admit(PlacementRequest request, HostView host);

    /**
     * As {@link #admit(PlacementRequest, HostView)}, for filters that also read the fleet-level
     * figures of the decide() call (the policy calls this one).
     */
    default boolean admit(ScoringContext ctx, HostView host) {
        return admit(ctx.request(), host);
    }

    /** Clause for the explanation, e.g. "9 lack a free 4-GPU partition". */
    String explain(PlacementRequest request, int rejectedHosts);

    /** As {@link #explain(PlacementRequest, int)}, with the fleet-level figures (the policy calls this one). */
    default String explain(ScoringContext ctx, int rejectedHosts) {
        return explain(ctx.request(), rejectedHosts);
    }

    /**
     * True for filters about free capacity (GPUs, CPUs, hugepages), false for the static ones
     * (state, model, location, modes). The explanation counts hosts that pass every static filter
     * as "N hosts MODEL ready".
     */
    default boolean capacity() {
        return false;
    }
}
