package io.gpucloud.controlplane.vm;

import io.gpucloud.controlplane.tenancy.Projects;
import io.gpucloud.controlplane.web.ApiException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/**
 * Operators' VM endpoints: create (into a project, by default the operators' own), inspect with
 * the host-job timeline, and drive the lifecycle. The customer API builds on the same service.
 */
@RestController
@RequestMapping("/admin/api/v1/vms")
class AdminVmController {

    private final VmService vms;
    private final VmQueries queries;
    private final Projects projects;

    AdminVmController(VmService vms, VmQueries queries, Projects projects) {
        this.vms = vms;
        this.queries = queries;
        this.projects = projects;
    }

    record CreateVm(UUID projectId, String name, String gpuModel, Integer gpuCount, Integer vcpus, Long memoryMiB,
                    String location, Long expectedDurationSeconds) {
    }

    @PostMapping
    @ResponseStatus(HttpStatus.ACCEPTED)
    VmQueries.VmView create(@RequestBody CreateVm r) {
        if (r.vcpus() == null || r.memoryMiB() == null) {
            throw ApiException.badRequest(r.vcpus() == null ? "vcpus" : "memoryMiB", "vcpus and memoryMiB are required.");
        }
        UUID project = r.projectId() != null ? r.projectId() : projects.ensureProject("operators", "default");
        int gpus = r.gpuCount() == null ? 0 : r.gpuCount();
        UUID id = vms.create(new VmService.NewVm(project, r.name(), "custom", r.gpuModel(), gpus, r.vcpus(),
                r.memoryMiB(), r.location(),
                r.expectedDurationSeconds() == null ? null : Duration.ofSeconds(r.expectedDurationSeconds())));
        return queries.get(id, null);
    }

    @GetMapping
    Map<String, List<VmQueries.VmView>> list(@RequestParam(defaultValue = "100") int limit) {
        if (limit < 1 || limit > 1000) {
            throw ApiException.badRequest("limit", "limit must be between 1 and 1000.");
        }
        return Map.of("items", queries.list(null, limit));
    }

    @GetMapping("/{vmId}")
    VmQueries.VmView get(@PathVariable UUID vmId) {
        return queries.get(vmId, null);
    }

    @DeleteMapping("/{vmId}")
    @ResponseStatus(HttpStatus.ACCEPTED)
    void delete(@PathVariable UUID vmId) {
        vms.signal(vmId, "destroy", null);
    }

    @PostMapping("/{vmId}/{action:stop|start|reboot}")
    @ResponseStatus(HttpStatus.ACCEPTED)
    void act(@PathVariable UUID vmId, @PathVariable String action) {
        vms.signal(vmId, action, null);
    }
}
