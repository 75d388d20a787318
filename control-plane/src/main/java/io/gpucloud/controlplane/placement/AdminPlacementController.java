package io.gpucloud.controlplane.placement;

import io.gpucloud.controlplane.web.ApiException;
import io.gpucloud.placement.NumaPolicy;
import io.gpucloud.placement.PlacementDecision;
import io.gpucloud.placement.PlacementRequest;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/** Lets an operator ask "where would this VM go, and if nowhere, why?" without claiming anything. */
@RestController
@RequestMapping("/admin/api/v1/placement")
class AdminPlacementController {

    private static final Set<Integer> GPU_COUNTS = Set.of(0, 1, 2, 4, 8, 16);

    private final PlacementService placement;

    AdminPlacementController(PlacementService placement) {
        this.placement = placement;
    }

    record PreviewRequest(String gpuModel, Integer gpuCount, Integer vcpus, Long memoryMiB, String location,
                          String numaPolicy, Boolean dedicatedCores, Long expectedDurationSeconds) {
    }

    record PreviewCandidate(UUID hostId, Long partitionRowId, List<Long> gpuDeviceIds, List<Integer> cpuIds,
                            Map<Integer, Integer> hugepagesByNode, double score) {
    }

    record PreviewResponse(boolean placeable, List<PreviewCandidate> candidates, Map<String, Integer> rejections,
                           String explanation) {
    }

    @PostMapping("/preview")
    PreviewResponse preview(@RequestBody PreviewRequest r) {
        int gpus = r.gpuCount() == null ? 0 : r.gpuCount();
        if (!GPU_COUNTS.contains(gpus)) {
            throw ApiException.badRequest("gpuCount", "gpuCount must be one of " + GPU_COUNTS + ".");
        }
        if (gpus > 0 && (r.gpuModel() == null || r.gpuModel().isBlank())) {
            throw ApiException.badRequest("gpuModel", "gpuModel is required when gpuCount > 0.");
        }
        if (r.vcpus() == null || r.vcpus() < 1 || r.vcpus() > 1024) {
            throw ApiException.badRequest("vcpus", "vcpus must be between 1 and 1024.");
        }
        if (r.memoryMiB() == null || r.memoryMiB() < 1024 || r.memoryMiB() > 16L * 1024 * 1024) {
            throw ApiException.badRequest("memoryMiB", "memoryMiB must be between 1024 and 16777216.");
        }
        NumaPolicy policy;
        try {
            policy = r.numaPolicy() == null ? NumaPolicy.PREFERRED : NumaPolicy.valueOf(r.numaPolicy().toUpperCase());
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest("numaPolicy", "numaPolicy must be 'required' or 'preferred'.");
        }
        Duration expected = r.expectedDurationSeconds() == null ? null : Duration.ofSeconds(r.expectedDurationSeconds());
        PlacementDecision d = placement.preview(new PlacementRequest(UUID.randomUUID(), gpus == 0 ? null : r.gpuModel(),
                gpus, r.vcpus(), r.memoryMiB(), r.location(), Set.of(), policy, Boolean.TRUE.equals(r.dedicatedCores()),
                expected));
        List<PreviewCandidate> top = d.candidates().stream().limit(5)
                .map(p -> new PreviewCandidate(p.hostId(), p.partitionRowId(), p.gpuDeviceIds(), p.cpuIds(),
                        p.hugepagesByNode(), p.score()))
                .toList();
        return new PreviewResponse(d.placed(), top, d.rejections(), d.explanation());
    }
}
