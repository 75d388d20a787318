package io.gpucloud.controlplane.vm;

import io.gpucloud.controlplane.web.ApiException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** VMs as operators see them, with the host-job timeline of their workflow. */
@Service
public class VmQueries {

    private final JdbcClient jdbc;
    private final JsonMapper json;

    public VmQueries(JdbcClient jdbc, JsonMapper json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    public record VmView(UUID id, UUID projectId, String name, String state, String stateReason, String instanceType,
                         String gpuModel, int gpuCount, int vcpus, long memoryMiB, String location, UUID hostId,
                         String hostName, Integer partitionId, List<String> gpuBdfs, List<Integer> numaNodes,
                         int provisionAttempts, String workflowLabel, String bootImage, String bootDisk,
                         String privateIpv4, String addressLocation, Instant createdAt, Instant updatedAt,
                         Instant deletedAt, List<JobView> jobs) {
    }

    public record JobView(UUID id, String step, String kind, String state, int attempts, Instant createdAt,
                          Instant startedAt, Instant finishedAt, Long durationMs, JsonNode result) {
    }

    public List<VmView> list(UUID projectIdOrNull, int limit) {
        return jdbc.sql(BASE + " WHERE (CAST(? AS uuid) IS NULL OR v.project_id = ?) ORDER BY v.created_at DESC LIMIT ?")
                .params(projectIdOrNull, projectIdOrNull, limit)
                .query((rs, n) -> view(rs, List.of())).list();
    }

    public VmView get(UUID vmId, UUID projectIdOrNull) {
        VmView head = jdbc.sql(BASE + " WHERE v.id = ? AND (CAST(? AS uuid) IS NULL OR v.project_id = ?)")
                .params(vmId, projectIdOrNull, projectIdOrNull)
                .query((rs, n) -> view(rs, List.of())).optional()
                .orElseThrow(() -> ApiException.notFound("VM", vmId));
        List<JobView> jobs = jdbc.sql("""
                SELECT id, step_key, kind, state, attempts, created_at, started_at, finished_at,
                       (EXTRACT(EPOCH FROM finished_at - coalesce(started_at, created_at)) * 1000)::bigint AS ms,
                       result::text AS result
                  FROM worker_job WHERE vm_id = ? ORDER BY created_at
                """).param(vmId)
                .query((rs, n) -> new JobView(rs.getObject("id", UUID.class), rs.getString("step_key"),
                        rs.getString("kind"), rs.getString("state"), rs.getInt("attempts"), ts(rs, "created_at"),
                        ts(rs, "started_at"), ts(rs, "finished_at"), (Long) rs.getObject("ms"),
                        rs.getString("result") == null ? null : json.readTree(rs.getString("result"))))
                .list();
        return new VmView(head.id(), head.projectId(), head.name(), head.state(), head.stateReason(),
                head.instanceType(), head.gpuModel(), head.gpuCount(), head.vcpus(), head.memoryMiB(), head.location(),
                head.hostId(), head.hostName(), head.partitionId(), head.gpuBdfs(), head.numaNodes(),
                head.provisionAttempts(), head.workflowLabel(), head.bootImage(), head.bootDisk(), head.privateIpv4(),
                head.addressLocation(), head.createdAt(), head.updatedAt(), head.deletedAt(),
                jobs);
    }

    private static final String BASE = """
            SELECT v.*, h.name AS host_name, s.label AS workflow_label,
                   host(a.address) AS private_ipv4, a.location AS address_location,
                   (SELECT partition_id FROM gpu_partition p WHERE p.host_id = v.host_id AND p.vm_id = v.id) AS partition_id,
                   ARRAY(SELECT bdf FROM pci_device d WHERE d.host_id = v.host_id AND d.vm_id = v.id AND d.kind = 'gpu' ORDER BY bdf) AS gpu_bdfs
              FROM vm v
              LEFT JOIN host h ON h.id = v.host_id
              LEFT JOIN strand s ON s.id = (v.placement->>'strandId')::uuid
              LEFT JOIN vm_address a ON a.vm_id = v.id
            """;

    private static VmView view(ResultSet rs, List<JobView> jobs) throws SQLException {
        Object[] bdfs = (Object[]) rs.getArray("gpu_bdfs").getArray();
        Object[] nodes = (Object[]) rs.getArray("numa_nodes").getArray();
        return new VmView(rs.getObject("id", UUID.class), rs.getObject("project_id", UUID.class), rs.getString("name"),
                rs.getString("state"), rs.getString("state_reason"), rs.getString("instance_type"),
                rs.getString("gpu_model"), rs.getInt("gpu_count"), rs.getInt("vcpus"), rs.getLong("memory_mib"),
                rs.getString("location"), rs.getObject("host_id", UUID.class), rs.getString("host_name"),
                (Integer) rs.getObject("partition_id"),
                java.util.Arrays.stream(bdfs).map(String::valueOf).toList(),
                java.util.Arrays.stream(nodes).map(o -> ((Number) o).intValue()).toList(),
                rs.getInt("provision_attempts"), rs.getString("workflow_label"), rs.getString("boot_image"),
                rs.getString("boot_disk"), rs.getString("private_ipv4"), rs.getString("address_location"),
                ts(rs, "created_at"),
                ts(rs, "updated_at"), ts(rs, "deleted_at"), jobs);
    }

    private static Instant ts(ResultSet rs, String column) throws SQLException {
        Timestamp t = rs.getTimestamp(column);
        return t == null ? null : t.toInstant();
    }
}
