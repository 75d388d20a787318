package io.gpucloud.placement;

import java.time.Instant;
import java.util.List;
import java.util.Set;
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
 * @param bootImages         the boot images (paths) the host's worker last reported holding, or null when it
 *                           has not reported them (a host that says nothing is taken to hold every image)
 */
public record HostSnapshot(UUID hostId, String name, String location, String state, String platform, String gpuModel,
                           String fabricMode, String virtualizationMode, boolean passthroughCapable,
                           List<GpuSnapshot> gpus, List<PartitionSnapshot> partitions, List<NumaSnapshot> numaNodes,
                           List<Instant> vmEndTimes, Set<String> bootImages) {
    public HostSnapshot {
        gpus = List.copyOf(gpus);
        partitions = List.copyOf(partitions);
        numaNodes = List.copyOf(numaNodes);
        vmEndTimes = vmEndTimes == null ? List.of() : List.copyOf(vmEndTimes);
        bootImages = bootImages == null ? null : Set.copyOf(bootImages);
    }

    /** A host that has not reported its boot images (the fragmentation benchmark's, or an older worker's). */
    public HostSnapshot(UUID hostId, String name, String location, String state, String platform, String gpuModel,
                        String fabricMode, String virtualizationMode, boolean passthroughCapable,
                        List<GpuSnapshot> gpus, List<PartitionSnapshot> partitions, List<NumaSnapshot> numaNodes,
                        List<Instant> vmEndTimes) {
        this(hostId, name, location, state, platform, gpuModel, fabricMode, virtualizationMode, passthroughCapable,
                gpus, partitions, numaNodes, vmEndTimes, null);
    }

    /** True unless the host reported its boot images and {@code image} is not among them. */
    public boolean holdsBootImage(String image) {
        return holdsBootImage(bootImages, image);
    }

    /** The rule of {@link #holdsBootImage(String)} for a host's report ({@code reported} null: none yet). */
    public static boolean holdsBootImage(Set<String> reported, String image) {
        return image == null || reported == null || reported.contains(image);
    }
}
