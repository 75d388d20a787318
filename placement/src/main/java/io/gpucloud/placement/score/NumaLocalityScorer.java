package io.gpucloud.placement.score;

import io.gpucloud.placement.AllocationUnit;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.Scorer;
import io.gpucloud.placement.ScoringContext;

/**
 * NUMA locality: how many NUMA nodes beyond one the unit's GPUs span (PCIe: prefer IOMMU groups
 * on one node), plus, under NumaPolicy.PREFERRED, the share of CPUs and hugepages that would have
 * to spill off the GPUs' nodes (halved and summed). CPU-only VMs: the spill beyond the best node.
 */
public final class NumaLocalityScorer implements Scorer {

    public static final String NAME = "numa-locality";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public double score(ScoringContext ctx, HostView host, AllocationUnit unit) {
        var req = ctx.request();
        int cpus = req.vcpus();
        long pages = req.hugepages1g();
        int cpuLocal;
        long pagesLocal;
        double span = 0;
        if (req.gpuCount() > 0) {
            span = Math.max(0, unit.spanNodes() - 1);
            if (req.numaPolicy() == io.gpucloud.placement.NumaPolicy.REQUIRED) {
                return span;
            }
            cpuLocal = host.cpuCapacity(unit.nodeMask());
            pagesLocal = host.hugepages(unit.nodeMask());
        } else {
            cpuLocal = 0;
            pagesLocal = 0;
            for (int i = 0, n = host.numaNodeCount(); i < n; i++) {
                cpuLocal = Math.max(cpuLocal, host.cpuCapacity(i));
                pagesLocal = Math.max(pagesLocal, host.hugepages(i));
            }
        }
        double spill = 0;
        if (cpus > 0) {
            spill += Math.max(0, cpus - cpuLocal) / (double) cpus;
        }
        if (pages > 0) {
            spill += Math.max(0, pages - pagesLocal) / (double) pages;
        }
        return span + 0.5 * spill;
    }
}
