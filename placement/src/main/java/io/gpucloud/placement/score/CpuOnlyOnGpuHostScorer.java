package io.gpucloud.placement.score;

import io.gpucloud.placement.AllocationUnit;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.Scorer;
import io.gpucloud.placement.ScoringContext;

/**
 * 1 when a CPU-only VM would land on a host that has GPUs. A penalty, not a filter: with a large
 * weight CPU-only VMs go to CPU hosts whenever one fits, yet still land on GPU hosts when only
 * those exist (or all CPU hosts are full), rather than being refused.
 */
public final class CpuOnlyOnGpuHostScorer implements Scorer {

    public static final String NAME = "cpu-only-on-gpu-host";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public double score(ScoringContext ctx, HostView host, AllocationUnit unit) {
        return ctx.request().gpuCount() <= 0 && host.hasGpus() ? 1 : 0;
    }
}
