package io.gpucloud.placement.score;

import io.gpucloud.placement.AllocationUnit;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.Scorer;
import io.gpucloud.placement.ScoringContext;

/**
 * Best fit across hosts: the share of the host's usable GPUs still free after this placement
 * (0 = the VM fills the host). Prefers partly used hosts over empty ones, so free GPUs collect on
 * few hosts. CPU-only VMs: the share of the host's free CPUs left.
 */
public final class BestFitScorer implements Scorer {

    public static final String NAME = "best-fit";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public double score(ScoringContext ctx, HostView host, AllocationUnit unit) {
        if (ctx.request().gpuCount() > 0) {
            int usable = host.usableGpus();
            return usable == 0 ? 0 : (host.freeGpus() - unit.gpuCount()) / (double) usable;
        }
        int free = host.totalCpuCapacity();
        return free <= 0 ? 0 : Math.max(0, free - ctx.request().vcpus()) / (double) free;
    }
}
