package io.gpucloud.controlplane.inventory;

import io.gpucloud.controlplane.inventory.HostViews.Capacity;
import io.gpucloud.controlplane.inventory.HostViews.DeviceView;
import io.gpucloud.controlplane.inventory.HostViews.HostDetail;
import io.gpucloud.controlplane.inventory.HostViews.HostSummary;
import io.gpucloud.controlplane.inventory.HostViews.NumaNodeView;
import io.gpucloud.controlplane.inventory.HostViews.PartitionView;
import io.gpucloud.controlplane.web.ApiException;
import java.sql.Array;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;
import tools.jackson.databind.json.JsonMapper;

/** The read side of the inventory: explicit SQL, one round trip per collection. */
@Service
public class HostQueries {

    private final JdbcClient jdbc;
    private final JsonMapper json;

    public HostQueries(JdbcClient jdbc, JsonMapper json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    private static final String GPU_COUNTS = """
            (SELECT count(*) FROM pci_device d WHERE d.host_id = h.id AND d.kind = 'gpu' AND d.health <> 'missing') AS gpu_count,
            (SELECT count(*) FROM pci_device d WHERE d.host_id = h.id AND d.kind = 'gpu' AND d.health = 'ok'
                AND d.vm_id IS NULL) AS free_gpu_count
            """;

    @Transactional(readOnly = true)
    public List<HostSummary> list(Optional<String> state, Optional<String> gpuModel, Optional<String> location) {
        return jdbc.sql("SELECT h.*, " + GPU_COUNTS + """
                  FROM host h
                 WHERE (CAST(? AS text) IS NULL OR h.state = ?)
                   AND (CAST(? AS text) IS NULL OR h.gpu_model = ?)
                   AND (CAST(? AS text) IS NULL OR h.location = ?)
                 ORDER BY h.name
                """)
                .params(state.orElse(null), state.orElse(null), gpuModel.orElse(null), gpuModel.orElse(null),
                        location.orElse(null), location.orElse(null))
                .query((rs, n) -> new HostSummary(rs.getObject("id", UUID.class), rs.getString("name"),
                        rs.getString("location"), rs.getString("platform"), rs.getString("state"),
                        rs.getString("state_reason"), rs.getString("fabric_mode"), rs.getString("gpu_model"),
                        rs.getInt("gpu_count"), rs.getInt("free_gpu_count"), rs.getString("virtualization_mode"),
                        rs.getString("virtualization_status"), instant(rs, "last_heartbeat_at")))
                .list();
    }

    @Transactional(readOnly = true)
    public HostDetail detail(UUID hostId) {
        HostDetail head = jdbc.sql("SELECT h.*, " + GPU_COUNTS + " FROM host h WHERE h.id = ?")
                .param(hostId)
                .query((rs, n) -> new HostDetail(rs.getObject("id", UUID.class), rs.getString("name"),
                        rs.getString("location"), rs.getString("platform"), rs.getString("state"),
                        rs.getString("state_reason"), rs.getString("fabric_mode"), rs.getString("fabric_source"),
                        rs.getBoolean("passthrough_capable"), rs.getString("gpu_model"), rs.getInt("gpu_count"),
                        rs.getInt("free_gpu_count"), rs.getString("virtualization_mode"),
                        rs.getString("virtualization_status"),
                        Capacity.of(rs.getLong("total_cpus"), rs.getLong("used_cpus")),
                        Capacity.of(rs.getLong("total_memory_mib"), rs.getLong("used_memory_mib")),
                        Capacity.of(rs.getLong("total_hugepages_1g"), rs.getLong("used_hugepages_1g")),
                        instant(rs, "registered_at"), instant(rs, "topology_reported_at"),
                        instant(rs, "last_heartbeat_at"), rs.getString("worker_version"),
                        rs.getArray("boot_images") == null ? null : strings(rs.getArray("boot_images")),
                        List.of(), List.of(), List.of(), json.readTree(rs.getString("problems")),
                        rs.getString("virtualization_reason"), json.readTree(rs.getString("virtualization_params")),
                        rs.getString("virtualization_requested_mode")))
                .optional().orElseThrow(() -> ApiException.notFound("Host", hostId));

        List<NumaNodeView> nodes = jdbc.sql("""
                SELECT n.*, ARRAY(SELECT c.cpu_id FROM cpu c WHERE c.host_id = n.host_id AND c.node_id = n.node_id
                                   ORDER BY c.cpu_id) AS cpu_ids
                  FROM numa_node n WHERE n.host_id = ? ORDER BY n.node_id
                """)
                .param(hostId)
                .query((rs, n) -> new NumaNodeView(rs.getInt("node_id"), ints(rs.getArray("cpu_ids")),
                        rs.getInt("used_cpus"), rs.getLong("memory_mib"), rs.getInt("hugepages_1g_total"),
                        rs.getInt("hugepages_1g_used"), rs.getInt("hugepages_2m_total")))
                .list();

        List<DeviceView> devices = jdbc.sql("""
                SELECT * FROM pci_device WHERE host_id = ?
                 ORDER BY CASE kind WHEN 'gpu' THEN 0 WHEN 'nvswitch' THEN 1 WHEN 'nic' THEN 2 WHEN 'nvme' THEN 3
                                    WHEN 'bridge' THEN 4 ELSE 5 END, bdf
                """)
                .param(hostId)
                .query((rs, n) -> new DeviceView(rs.getString("bdf"), rs.getString("kind"), rs.getString("model"),
                        rs.getString("vendor_id"), rs.getString("device_id"), rs.getString("class_code"),
                        (Integer) rs.getObject("module_id"), (Integer) rs.getObject("numa_node"),
                        (Integer) rs.getObject("iommu_group"), rs.getString("switch_bdf"),
                        rs.getString("root_port_bdf"), rs.getString("parent_bdf"), rs.getString("driver"),
                        longs(rs.getArray("bar_sizes")), rs.getString("health"), rs.getString("health_reason"),
                        rs.getObject("vm_id", UUID.class)))
                .list();

        List<PartitionView> partitions = jdbc.sql("""
                SELECT p.*,
                       ARRAY(SELECT d.bdf FROM gpu_partition_member m JOIN pci_device d ON d.id = m.device_id
                              WHERE m.partition_row_id = p.id ORDER BY d.module_id) AS gpu_bdfs,
                       EXISTS (SELECT 1 FROM gpu_partition_member m JOIN pci_device d ON d.id = m.device_id
                                WHERE m.partition_row_id = p.id AND d.health <> 'ok') AS unhealthy,
                       EXISTS (SELECT 1 FROM gpu_partition_member m JOIN pci_device d ON d.id = m.device_id
                                WHERE m.partition_row_id = p.id AND d.vm_id IS NOT NULL) AS member_held
                  FROM gpu_partition p WHERE p.host_id = ?
                 ORDER BY p.gpu_count DESC, p.partition_id
                """)
                .param(hostId)
                .query((rs, n) -> {
                    UUID vmId = rs.getObject("vm_id", UUID.class);
                    String state;
                    if (vmId != null) {
                        state = "allocated";
                    } else if (!rs.getBoolean("available") || rs.getBoolean("unhealthy")) {
                        state = "unavailable";
                    } else if (rs.getBoolean("member_held")) {
                        state = "blocked";
                    } else {
                        state = "free";
                    }
                    return new PartitionView(rs.getInt("partition_id"), rs.getInt("gpu_count"),
                            ints(rs.getArray("module_ids")), strings(rs.getArray("gpu_bdfs")), state,
                            rs.getBoolean("fm_active"), vmId);
                })
                .list();

        return new HostDetail(head.id(), head.name(), head.location(), head.platform(), head.state(),
                head.stateReason(), head.fabricMode(), head.fabricSource(), head.passthroughCapable(),
                head.gpuModel(), head.gpuCount(), head.freeGpuCount(), head.virtualizationMode(),
                head.virtualizationStatus(), head.cpus(), head.memoryMiB(), head.hugepages1g(), head.registeredAt(),
                head.topologyReportedAt(), head.lastHeartbeatAt(), head.workerVersion(), head.bootImages(), nodes,
                devices, partitions,
                head.problems(), head.virtualizationReason(), head.virtualizationParams(),
                head.virtualizationRequestedMode());
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        Timestamp ts = rs.getTimestamp(column);
        return ts == null ? null : ts.toInstant();
    }

    private static List<Integer> ints(Array array) throws SQLException {
        if (array == null) return List.of();
        Object[] values = (Object[]) array.getArray();
        List<Integer> out = new ArrayList<>(values.length);
        for (Object v : values) out.add(((Number) v).intValue());
        return out;
    }

    private static List<Long> longs(Array array) throws SQLException {
        if (array == null) return List.of();
        Object[] values = (Object[]) array.getArray();
        List<Long> out = new ArrayList<>(values.length);
        for (Object v : values) out.add(((Number) v).longValue());
        return out;
    }

    private static List<String> strings(Array array) throws SQLException {
        if (array == null) return List.of();
        return Arrays.stream((Object[]) array.getArray()).map(String::valueOf).toList();
    }
}
