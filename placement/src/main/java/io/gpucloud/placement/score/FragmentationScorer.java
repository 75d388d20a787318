package io.gpucloud.placement.score;

import io.gpucloud.placement.AllocationUnit;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.Scorer;
import io.gpucloud.placement.ScoringContext;

/**
 * Least damage within a host: the summed size of the still-free larger partitions the choice
 * makes unusable (from the module-id sets alone; no per-platform rules), divided by twice the
 * host's GPU count. On H100 with partition 4 {2,4} taken, a 2-GPU request costs 0 on 3 {1,3} and
 * 4 (partition 2 {5..8}) on 5 {5,7}: the sibling-first rule falls out. On PCIe hosts: the free
 * GPUs left behind on the NUMA nodes the groups come from.
 */
public final class FragmentationScorer implements Scorer {

    public static final String NAME = "least-damage";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public double score(ScoringContext ctx, HostView host, AllocationUnit unit) {
        int n = host.totalGpus();
        return n == 0 ? 0 : unit.damage() / (2.0 * n);
    }
}
