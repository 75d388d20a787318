package io.gpucloud.controlplane.inventory;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/** Read models of the inventory as the admin API shows them. */
public final class HostViews {

    private HostViews() {
    }

    public record HostSummary(UUID id, String name, String location, String platform, String state,
                              String stateReason, String fabricMode, String gpuModel, int gpuCount, int freeGpuCount,
                              String virtualizationMode, String virtualizationStatus, Instant lastHeartbeatAt) {
    }

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record HostDetail(UUID id, String name, String location, String platform, String state,
                             String stateReason, String fabricMode, String fabricSource, boolean passthroughCapable,
                             String gpuModel, int gpuCount, int freeGpuCount,
                             String virtualizationMode, String virtualizationStatus,
                             Capacity cpus, Capacity memoryMiB, Capacity hugepages1g,
                             Instant registeredAt, Instant topologyReportedAt, Instant lastHeartbeatAt,
                             String workerVersion, List<String> bootImages,
                             List<NumaNodeView> numaNodes, List<DeviceView> pciDevices,
                             List<PartitionView> partitions, Object problems,
                             String virtualizationReason, Object virtualizationParams,
                             String virtualizationRequestedMode) {
    }

    public record Capacity(long total, long used, long free) {
        public static Capacity of(long total, long used) {
            return new Capacity(total, used, total - used);
        }
    }

    public record NumaNodeView(int id, List<Integer> cpus, int usedCpus, long memoryMiB, int hugepages1gTotal,
                               int hugepages1gUsed, int hugepages2mTotal) {
    }

    public record DeviceView(String bdf, String kind, String model, String vendorId, String deviceId,
                             String classCode, Integer moduleId, Integer numaNode, Integer iommuGroup,
                             String switchBdf, String rootPortBdf, String parentBdf, String driver,
                             List<Long> barSizes, String health, String healthReason, UUID vmId) {
    }

    /**
     * @param state free, allocated (held by a VM), blocked (an overlapping partition or member GPU is
     *              held), or unavailable (a member GPU is missing or unhealthy)
     */
    public record PartitionView(int partitionId, int gpuCount, List<Integer> moduleIds, List<String> gpuBdfs,
                                String state, boolean fmActive, UUID vmId) {
    }
}
