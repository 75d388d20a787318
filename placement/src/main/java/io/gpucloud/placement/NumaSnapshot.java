package io.gpucloud.placement;

import java.util.List;

/**
 * @param nodeId             NUMA node
 * @param freeCpus           free logical CPUs, each with its hyperthread siblings (for dedicated cores)
 * @param freeHugepages1g    free 1 GiB hugepages on the node
 */
public record NumaSnapshot(int nodeId, List<FreeCpu> freeCpus, int freeHugepages1g) {
    public NumaSnapshot {
        freeCpus = List.copyOf(freeCpus);
    }

    /** @param siblings the CPU's thread siblings, itself included */
    public record FreeCpu(int cpuId, int coreKey, List<Integer> siblings) {
        public FreeCpu {
            siblings = List.copyOf(siblings);
        }
    }
}
