package io.gpucloud.placement.score;

import io.gpucloud.placement.AllocationUnit;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.Scorer;
import io.gpucloud.placement.ScoringContext;

/**
 * Lifetime-aware packing. A host becomes whole again when its last VM ends ({@code H}, the
 * latest of {@link io.gpucloud.placement.HostSnapshot#vmEndTimes()}, at least now). Placing a VM
 * that ends at {@code E > H} keeps the host busy {@code E - H} longer: the penalty is that
 * extension as a share of the VM's duration (an empty host: 1). When the VM ends before the host
 * drains anyway it costs nothing, plus {@code tightness * slack / (slack + duration)} so that VMs
 * go to hosts whose VMs end near theirs (short VMs do not eat the room long-lived hosts need).
 * Neutral 0 when the request has no expectedDuration; {@code unknownPenalty} for a busy host
 * that reports no end times.
 */
public final class LifetimeScorer implements Scorer {

    public static final String NAME = "lifetime";

    private final double tightness;
    private final double unknownPenalty;

    public LifetimeScorer(double tightness, double unknownPenalty) {
        this.tightness = tightness;
        this.unknownPenalty = unknownPenalty;
    }

    public LifetimeScorer() {
        this(0.5, 0.5);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public double score(ScoringContext ctx, HostView host, AllocationUnit unit) {
        if (!ctx.hasLifetimeHint()) {
            return 0;
        }
        long now = ctx.nowMillis();
        long end = ctx.endMillis();
        double d = Math.max(1, end - now);
        long h = host.maxEndMillis();
        if (h == Long.MIN_VALUE) {
            boolean busy = ctx.request().gpuCount() > 0 ? host.heldGpus() > 0 : false;
            if (busy) {
                return unknownPenalty;
            }
            h = now;
        }
        if (h < now) {
            h = now;
        }
        if (end > h) {
            return Math.min(1.0, (end - h) / d);
        }
        double slack = h - end;
        return tightness * slack / (slack + d);
    }
}
