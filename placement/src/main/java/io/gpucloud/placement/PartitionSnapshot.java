package io.gpucloud.placement;

import java.util.Set;

/**
 * @param rowId        gpu_partition row id
 * @param partitionId  Fabric Manager partition id
 * @param moduleIds    member GPUs by module id
 * @param available    all members present (false on a degraded board)
 * @param allocated    held by a VM as a partition
 */
public record PartitionSnapshot(long rowId, int partitionId, Set<Integer> moduleIds, boolean available,
                                boolean allocated) {
    public PartitionSnapshot {
        moduleIds = Set.copyOf(moduleIds);
    }

    public int gpuCount() {
        return moduleIds.size();
    }
}
