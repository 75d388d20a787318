package io.gpucloud.placement.filter;

import io.gpucloud.placement.HostFilter;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.PlacementRequest;
import io.gpucloud.placement.ScoringContext;

/**
 * Trunk reservation for whole-host VMs. While only {@code reserve} (or fewer) hosts of the
 * request's model are empty fleet-wide, a GPU VM smaller than an empty host's largest free unit
 * may open one only if it says it ends soon (expectedDuration at most {@code exemptMillis}); it
 * goes to a partly used host, or is refused. Whole-host VMs are never held back by it.
 *
 * <p>Acts only on what it is told: the fleet-wide count comes from the caller
 * ({@link ScoringContext#emptyHosts()}, unknown = no reservation), and a request without an
 * expectedDuration is not held back either (in the fragmentation replay, reserving against VMs of
 * unknown length refused more small VMs than global first-fit loses to fragmentation in total).
 */
public final class ReservedBoardFilter implements HostFilter {

    public static final String NAME = "reserved-empty-hosts";

    private final int reserve;
    private final long exemptMillis;

    /**
     * @param reserve      how many of the fleet's last empty hosts smaller VMs may not open (0 = off)
     * @param exemptMillis VMs expected to end within this many milliseconds may open them anyway
     */
    public ReservedBoardFilter(int reserve, long exemptMillis) {
        if (reserve < 0 || exemptMillis < 0) {
            throw new IllegalArgumentException("reserve and exemptMillis must be >= 0: " + reserve + ", "
                    + exemptMillis);
        }
        this.reserve = reserve;
        this.exemptMillis = exemptMillis;
    }

    @Override
    public String name() {
        return NAME;
    }

    /** Without the fleet-wide count there is nothing to reserve. */
    @Override
    public boolean admit(PlacementRequest request, HostView host) {
        return true;
    }

    @Override
    public boolean admit(ScoringContext ctx, HostView host) {
        int size = ctx.request().gpuCount();
        return !reserving(ctx) || size <= 0 || host.heldGpus() > 0 || host.maxFreeUnitSize() <= size;
    }

    /** The fleet is down to its reserve and this request is a long (declared) one. */
    private boolean reserving(ScoringContext ctx) {
        return reserve > 0 && ctx.knowsEmptyHosts() && ctx.emptyHosts() <= reserve && ctx.hasLifetimeHint()
                && ctx.durationMillis() > exemptMillis;
    }

    @Override
    public String explain(PlacementRequest request, int rejectedHosts) {
        return "on " + rejectedHosts + " the empty host is kept for whole-host VMs";
    }

    @Override
    public String explain(ScoringContext ctx, int rejectedHosts) {
        int e = ctx.emptyHosts();
        return String.format(java.util.Locale.ROOT,
                "%d %s kept for whole-host VMs (%d empty in the fleet, the last %d reserved against VMs expected to "
                        + "run over %d min; this one %d min)", rejectedHosts,
                rejectedHosts == 1 ? "empty host" : "empty hosts", e, reserve, exemptMillis / 60_000,
                (ctx.durationMillis() + 59_999) / 60_000);
    }

    @Override
    public boolean capacity() {
        return true;
    }
}
