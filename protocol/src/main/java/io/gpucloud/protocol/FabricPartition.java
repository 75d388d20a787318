package io.gpucloud.protocol;

import java.util.List;

/**
 * A Fabric Manager partition: the unit a multi-GPU VM gets on a Shared-NVSwitch host.
 *
 * @param partitionId  Fabric Manager's id (platform numbering: H100 starts at 0, B200 at 1)
 * @param gpuCount     GPUs in the partition
 * @param moduleIds    GPU physical (module) ids, sorted
 * @param active       whether Fabric Manager reports it active now (false when from built-in tables)
 * @param available    false when a member GPU is missing (degraded board); numbering of the rest is kept
 */
public record FabricPartition(int partitionId, int gpuCount, List<Integer> moduleIds, boolean active,
                              boolean available) {
    public FabricPartition {
        moduleIds = List.copyOf(moduleIds);
    }
}
