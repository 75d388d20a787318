package io.gpucloud.placement;

/**
 * One way to give the request its GPUs on one host: a fabric partition (Shared-NVSwitch), a set of
 * whole IOMMU groups (PCIe host), the whole board (full passthrough), or nothing (CPU-only VM).
 * Built by {@link HostView}; scorers read it, filters may drop it.
 */
public final class AllocationUnit {

    public enum Kind { PARTITION, IOMMU_GROUPS, WHOLE_BOARD, CPU_ONLY }

    private final Kind kind;
    private final PartitionSnapshot partition;
    private final int[] gpuIndices;
    private final long nodeMask;
    private final int spanNodes;
    private final boolean unknownNumaNode;
    private final int damage;
    private final int order;

    AllocationUnit(Kind kind, PartitionSnapshot partition, int[] gpuIndices, long nodeMask, int spanNodes,
                   boolean unknownNumaNode, int damage, int order) {
        this.kind = kind;
        this.partition = partition;
        this.gpuIndices = gpuIndices;
        this.nodeMask = nodeMask;
        this.spanNodes = spanNodes;
        this.unknownNumaNode = unknownNumaNode;
        this.damage = damage;
        this.order = order;
    }

    public Kind kind() {
        return kind;
    }

    /** The fabric partition, or null. */
    public PartitionSnapshot partition() {
        return partition;
    }

    public Long partitionRowId() {
        return partition == null ? null : partition.rowId();
    }

    public int gpuCount() {
        return gpuIndices.length;
    }

    /** Indices into {@link HostSnapshot#gpus()}, ascending by module id (fabric) or group (PCIe). */
    public int gpuIndex(int i) {
        return gpuIndices[i];
    }

    /** Bit i set: a GPU of this unit sits on the host's i-th NUMA node (index into numaNodes()). */
    public long nodeMask() {
        return nodeMask;
    }

    /** How many NUMA nodes the unit's GPUs touch (unknown or unlisted nodes count once). */
    public int spanNodes() {
        return spanNodes;
    }

    /** Some GPU has no NUMA node on a multi-node host: NumaPolicy.REQUIRED cannot be honoured. */
    public boolean unknownNumaNode() {
        return unknownNumaNode;
    }

    /**
     * Anti-fragmentation damage: on fabric hosts the summed size of the still-free larger
     * partitions this choice makes unusable; on PCIe hosts the free GPUs left behind on the NUMA
     * nodes it touches (best fit per node). 0 for whole boards and CPU-only.
     */
    public int damage() {
        return damage;
    }

    /** Deterministic tie-break: partition id, or lowest IOMMU group. */
    public int order() {
        return order;
    }

    @Override
    public String toString() {
        if (partition != null) {
            return "partition " + partition.partitionId() + " " + new java.util.TreeSet<>(partition.moduleIds());
        }
        return kind.name().toLowerCase() + " " + java.util.Arrays.toString(gpuIndices);
    }
}
