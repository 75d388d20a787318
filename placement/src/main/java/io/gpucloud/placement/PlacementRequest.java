package io.gpucloud.placement;

import java.time.Duration;
import java.util.Set;
import java.util.UUID;

/**
 * What a VM needs.
 *
 * @param vmId              the VM being placed
 * @param gpuModel          catalog GPU model ("H100-SXM5-80GB"); null for a CPU-only VM
 * @param gpuCount          0, 1, 2, 4 or 8 (16 on two-board A100 systems)
 * @param vcpus             logical CPUs to pin
 * @param memoryMiB         guest memory; backed by 1 GiB hugepages, so rounded up to whole GiB
 * @param location          required location, or null for any
 * @param hostIds           restrict to these hosts, or empty for any
 * @param numaPolicy        REQUIRED: CPUs and memory only from the GPUs' NUMA nodes; PREFERRED: spill if needed
 * @param dedicatedCores    take whole physical cores (a CPU with its hyperthread siblings)
 * @param expectedDuration  optional hint of how long the VM will live (lifetime-aware packing); null if unknown
 * @param bootImage         the boot image (its path on the host) the VM's disk is made from, or null for none
 */
public record PlacementRequest(UUID vmId, String gpuModel, int gpuCount, int vcpus, long memoryMiB, String location,
                               Set<UUID> hostIds, NumaPolicy numaPolicy, boolean dedicatedCores,
                               Duration expectedDuration, String bootImage) {
    public PlacementRequest {
        hostIds = hostIds == null ? Set.of() : Set.copyOf(hostIds);
        numaPolicy = numaPolicy == null ? NumaPolicy.PREFERRED : numaPolicy;
    }

    /** A request without a boot image (benchmarks, previews of GPU capacity). */
    public PlacementRequest(UUID vmId, String gpuModel, int gpuCount, int vcpus, long memoryMiB, String location,
                            Set<UUID> hostIds, NumaPolicy numaPolicy, boolean dedicatedCores,
                            Duration expectedDuration) {
        this(vmId, gpuModel, gpuCount, vcpus, memoryMiB, location, hostIds, numaPolicy, dedicatedCores,
                expectedDuration, null);
    }

    public long hugepages1g() {
        return (memoryMiB + 1023) / 1024;
    }
}
