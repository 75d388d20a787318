package io.gpucloud.placement;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * A host as placement sees it at one instant: loaded from SQL by the control plane, or built in
 * memory by the fragmentation benchmark. Policy code reads only this.
 *
 * @param state              host state; only "ready" hosts take VMs
 * @param fabricMode         SHARED_NVSWITCH, FULL_PASSTHROUGH or NONE
 * @param virtualizationMode "passthrough" for whole-GPU VMs
 * @param gpus               every GPU of the host, held or not
 * @param partitions         every fabric partition of the host (empty without a fabric)
 * @param numaNodes          per NUMA node, the CPUs and hugepages still free
 * @param vmEndTimes         expected end of each VM living on the host (lifetime-aware scoring), may be empty
 */
public record HostSnapshot(UUID hostId, String name, String location, String state, String platform, String gpuModel,
                           String fabricMode, String virtualizationMode, boolean passthroughCapable,
                           List<GpuSnapshot> gpus, List<PartitionSnapshot> partitions, List<NumaSnapshot> numaNodes,
                           List<Instant> vmEndTimes) {
    public HostSnapshot {
        gpus = List.copyOf(gpus);
        partitions = List.copyOf(partitions);
        numaNodes = List.copyOf(numaNodes);
        vmEndTimes = vmEndTimes == null ? List.of() : List.copyOf(vmEndTimes);
    }
}
