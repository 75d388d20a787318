package io.gpucloud.placement;

import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The policy's decision, before the claim makes it true in the database.
 *
 * @param hostId          chosen host
 * @param partitionRowId  fabric partition to hold, or null (CPU-only VM, or host without fabric)
 * @param gpuDeviceIds    GPU rows to hold (on fabric hosts: the partition's members)
 * @param cpuIds          logical CPUs to pin, NUMA-local to the GPUs first
 * @param hugepagesByNode 1 GiB hugepages taken from each NUMA node
 * @param score           total weighted score (lower is better), for explanations and tests
 */
public record Placement(UUID hostId, Long partitionRowId, List<Long> gpuDeviceIds, List<Integer> cpuIds,
                        Map<Integer, Integer> hugepagesByNode, double score) {
    public Placement {
        gpuDeviceIds = List.copyOf(gpuDeviceIds);
        cpuIds = List.copyOf(cpuIds);
        hugepagesByNode = Map.copyOf(hugepagesByNode);
    }
}
