package io.gpucloud.worker.fabric;

import io.gpucloud.protocol.FabricPartition;
import java.util.List;
import java.util.Map;

/**
 * What {@code fmpm -l} said.
 *
 * @param partitions       supported partitions, in Fabric Manager's order; all {@code available}
 * @param maxNumPartitions partitions a healthy board supports (more than listed on a degraded board)
 * @param gpuBdfByModule   module id → BDF where Fabric Manager filled in pciBusId (A100; empty on H100 and later)
 */
public record PartitionListing(List<FabricPartition> partitions, int maxNumPartitions,
                               Map<Integer, String> gpuBdfByModule) {
    public PartitionListing {
        partitions = List.copyOf(partitions);
        gpuBdfByModule = Map.copyOf(gpuBdfByModule);
    }
}
