package io.gpucloud.controlplane.vm;

import io.gpucloud.controlplane.web.ApiException;
import io.gpucloud.controlplane.workflow.StrandStore;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/** Creating VMs and signalling their workflows (start, stop, reboot, delete). */
@Service
public class VmService {

    private static final Pattern NAME = Pattern.compile("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$");
    private static final Set<Integer> GPU_COUNTS = Set.of(0, 1, 2, 4, 8);

    private final JdbcClient jdbc;
    private final StrandStore strands;

    public VmService(JdbcClient jdbc, StrandStore strands) {
        this.jdbc = jdbc;
        this.strands = strands;
    }

    public record NewVm(UUID projectId, String name, String instanceType, String gpuModel, int gpuCount, int vcpus,
                        long memoryMiB, String location, Duration expectedDuration) {
    }

    @Transactional
    public UUID create(NewVm r) {
        if (r.name() == null || !NAME.matcher(r.name()).matches()) {
            throw ApiException.badRequest("name",
                    "name must be 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit.");
        }
        if (!GPU_COUNTS.contains(r.gpuCount())) {
            throw ApiException.badRequest("gpuCount", "gpuCount must be one of " + GPU_COUNTS + ".");
        }
        if (r.gpuCount() > 0 && (r.gpuModel() == null || r.gpuModel().isBlank())) {
            throw ApiException.badRequest("gpuModel", "gpuModel is required for a GPU VM.");
        }
        if (r.vcpus() < 1 || r.vcpus() > 448) {
            throw ApiException.badRequest("vcpus", "vcpus must be between 1 and 448.");
        }
        if (r.memoryMiB() < 1024 || r.memoryMiB() > 4L * 1024 * 1024) {
            throw ApiException.badRequest("memoryMiB", "memoryMiB must be between 1024 and 4194304.");
        }
        UUID id = UUID.randomUUID();
        UUID strand = UUID.randomUUID();
        try {
            // born pending with its workflow's id, so the workflow starts at placing it
            jdbc.sql("""
                    INSERT INTO vm (id, project_id, name, instance_type, gpu_model, gpu_count, vcpus, memory_mib,
                                    location, expected_end_at, state, state_reason, placement)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, CASE WHEN CAST(? AS bigint) IS NULL THEN NULL
                                                            ELSE now() + make_interval(secs => CAST(? AS bigint)) END,
                            'pending', ?, jsonb_build_object('strandId', ?::text))
                    """)
                    .params(id, r.projectId(), r.name(), r.instanceType(), r.gpuCount() == 0 ? null : r.gpuModel(),
                            r.gpuCount(), r.vcpus(), r.memoryMiB(), r.location(),
                            r.expectedDuration() == null ? null : r.expectedDuration().toSeconds(),
                            r.expectedDuration() == null ? null : r.expectedDuration().toSeconds(),
                            VmProg.WAITING_FOR_CAPACITY, strand.toString())
                    .update();
        } catch (DuplicateKeyException e) {
            throw ApiException.conflict("name-taken", "A VM named '" + r.name() + "' already exists in this project.");
        }
        strands.create(strand, VmProg.NAME, VmProg.FIRST_LABEL, Map.of("vmId", id.toString()));
        return id;
    }

    /** Raises {@code destroy}, {@code stop}, {@code start} or {@code reboot} on the VM's workflow. */
    @Transactional
    public void signal(UUID vmId, String semaphore, UUID projectIdOrNull) {
        if (!List.of("destroy", "stop", "start", "reboot").contains(semaphore)) {
            throw new IllegalArgumentException(semaphore);
        }
        var row = jdbc.sql("""
                SELECT state, placement->>'strandId' FROM vm WHERE id = ? AND (CAST(? AS uuid) IS NULL OR project_id = ?)
                """).params(vmId, projectIdOrNull, projectIdOrNull)
                .query((rs, n) -> new String[] {rs.getString(1), rs.getString(2)}).optional()
                .orElseThrow(() -> ApiException.notFound("VM", vmId));
        String state = row[0];
        if (state.equals("deleted") || state.equals("deleting")) {
            if (semaphore.equals("destroy")) {
                return; // deleting twice is deleting once
            }
            throw ApiException.conflict("vm-deleted", "VM " + vmId + " is " + state + ".");
        }
        if (state.equals("failed") && semaphore.equals("destroy")) {
            jdbc.sql("UPDATE vm SET state = 'deleted', deleted_at = now(), updated_at = now() WHERE id = ?")
                    .param(vmId).update();
            return;
        }
        if (!semaphore.equals("destroy") && !allowed(state, semaphore)) {
            throw ApiException.conflict("invalid-state", "Cannot " + semaphore + " VM " + vmId + " while it is " + state + ".");
        }
        strands.signal(UUID.fromString(row[1]), semaphore);
    }

    private static boolean allowed(String state, String action) {
        return switch (action) {
            case "stop", "reboot" -> state.equals("running");
            case "start" -> state.equals("stopped");
            default -> false;
        };
    }
}
