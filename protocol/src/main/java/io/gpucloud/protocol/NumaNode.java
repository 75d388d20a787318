package io.gpucloud.protocol;

import java.util.List;

/**
 * @param id                  kernel NUMA node number
 * @param cpus                logical CPU ids of the node (from {@code cpulist}; often interleaved)
 * @param memoryMiB           MemTotal of the node
 * @param hugepages1gTotal    1 GiB hugepages reserved on the node
 * @param hugepages1gFree     of those, free now
 * @param hugepages2mTotal    2 MiB hugepages reserved on the node
 */
public record NumaNode(int id, List<Integer> cpus, long memoryMiB, int hugepages1gTotal, int hugepages1gFree,
                       int hugepages2mTotal) {
    public NumaNode {
        cpus = List.copyOf(cpus);
    }
}
