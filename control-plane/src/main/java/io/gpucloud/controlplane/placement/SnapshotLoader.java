package io.gpucloud.controlplane.placement;

import io.gpucloud.placement.GpuSnapshot;
import io.gpucloud.placement.HostSnapshot;
import io.gpucloud.placement.NumaSnapshot;
import io.gpucloud.placement.PartitionSnapshot;
import io.gpucloud.placement.PlacementRequest;
import java.sql.Array;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * Turns rows into the {@link HostSnapshot}s the policy reads. A first query narrows 10,000 hosts
 * to a few dozen plausible ones using the cached counters (best fit first, empty boards last for
 * small requests, a random tie-break so concurrent requests spread over equals); four more load
 * exactly those hosts.
 */
@Component
class SnapshotLoader {

    private final JdbcClient jdbc;

    SnapshotLoader(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    List<UUID> candidateHostIds(PlacementRequest r, int limit) {
        UUID[] hostFilter = r.hostIds().toArray(UUID[]::new);
        return jdbc.sql("""
                SELECT h.id FROM host h
                 WHERE h.state = 'ready' AND h.passthrough_capable AND h.virtualization_mode = 'passthrough'
                   AND (CAST(? AS text) IS NULL OR h.gpu_model = ?)
                   AND (CAST(? AS text) IS NULL OR h.location = ?)
                   AND (cardinality(CAST(? AS uuid[])) = 0 OR h.id = ANY(CAST(? AS uuid[])))
                   AND h.total_gpus - h.used_gpus >= ?
                   AND h.total_cpus - h.used_cpus >= ?
                   AND h.total_hugepages_1g - h.used_hugepages_1g >= ?
                   AND h.total_memory_mib - h.used_memory_mib >= ?
                 ORDER BY CASE WHEN ? = 0 THEN (h.total_gpus > 0)::int
                               ELSE (h.used_gpus = 0 AND ? < h.total_gpus)::int END,
                          h.total_gpus - h.used_gpus,
                          random()
                 LIMIT ?
                """)
                .params(r.gpuModel(), r.gpuModel(), r.location(), r.location(), hostFilter, hostFilter,
                        r.gpuCount(), r.vcpus(), r.hugepages1g(), r.memoryMiB(), r.gpuCount(), r.gpuCount(), limit)
                .query(UUID.class).list();
    }

    /** Locks the host row for the rest of the transaction; false if the host is not ready. */
    boolean lockReadyHost(UUID hostId) {
        return jdbc.sql("SELECT state FROM host WHERE id = ? FOR NO KEY UPDATE").param(hostId)
                .query(String.class).optional().filter("ready"::equals).isPresent();
    }

    List<HostSnapshot> load(List<UUID> hostIds) {
        if (hostIds.isEmpty()) {
            return List.of();
        }
        UUID[] ids = hostIds.toArray(UUID[]::new);
        Map<UUID, List<GpuSnapshot>> gpus = new HashMap<>();
        jdbc.sql("""
                SELECT host_id, id, bdf, module_id, numa_node, iommu_group, health = 'ok' AS healthy,
                       vm_id IS NOT NULL AS held
                  FROM pci_device WHERE host_id = ANY(?) AND kind = 'gpu' AND health <> 'missing'
                """)
                .param(ids)
                .query(rs -> {
                    gpus.computeIfAbsent(rs.getObject("host_id", UUID.class), k -> new ArrayList<>())
                            .add(new GpuSnapshot(rs.getLong("id"), rs.getString("bdf"),
                                    (Integer) rs.getObject("module_id"), (Integer) rs.getObject("numa_node"),
                                    (Integer) rs.getObject("iommu_group"), rs.getBoolean("healthy"),
                                    rs.getBoolean("held")));
                });
        Map<UUID, List<PartitionSnapshot>> partitions = new HashMap<>();
        jdbc.sql("""
                SELECT host_id, id, partition_id, module_ids, available, vm_id IS NOT NULL AS allocated
                  FROM gpu_partition WHERE host_id = ANY(?)
                """)
                .param(ids)
                .query(rs -> {
                    partitions.computeIfAbsent(rs.getObject("host_id", UUID.class), k -> new ArrayList<>())
                            .add(new PartitionSnapshot(rs.getLong("id"), rs.getInt("partition_id"),
                                    intSet(rs.getArray("module_ids")), rs.getBoolean("available"),
                                    rs.getBoolean("allocated")));
                });
        Map<UUID, Map<Integer, List<NumaSnapshot.FreeCpu>>> freeCpus = new HashMap<>();
        jdbc.sql("""
                SELECT host_id, node_id, array_agg(cpu_id ORDER BY cpu_id) AS cpu_ids,
                       array_agg(socket_id * 65536 + core_id ORDER BY cpu_id) AS core_keys,
                       array_agg(array_to_string(siblings, ',') ORDER BY cpu_id) AS siblings
                  FROM cpu WHERE host_id = ANY(?) AND vm_id IS NULL
                 GROUP BY host_id, node_id
                """)
                .param(ids)
                .query(rs -> {
                    int[] cpuIds = ints(rs.getArray("cpu_ids"));
                    int[] cores = ints(rs.getArray("core_keys"));
                    Object[] sibs = (Object[]) rs.getArray("siblings").getArray();
                    List<NumaSnapshot.FreeCpu> list = new ArrayList<>(cpuIds.length);
                    for (int i = 0; i < cpuIds.length; i++) {
                        list.add(new NumaSnapshot.FreeCpu(cpuIds[i], cores[i], parseList((String) sibs[i])));
                    }
                    freeCpus.computeIfAbsent(rs.getObject("host_id", UUID.class), k -> new HashMap<>())
                            .put(rs.getInt("node_id"), list);
                });
        Map<UUID, List<NumaSnapshot>> numa = new HashMap<>();
        jdbc.sql("""
                SELECT host_id, node_id, hugepages_1g_total - hugepages_1g_used AS free_hugepages
                  FROM numa_node WHERE host_id = ANY(?) ORDER BY node_id
                """)
                .param(ids)
                .query(rs -> {
                    UUID host = rs.getObject("host_id", UUID.class);
                    int node = rs.getInt("node_id");
                    List<NumaSnapshot.FreeCpu> cpus = freeCpus.getOrDefault(host, Map.of()).getOrDefault(node, List.of());
                    numa.computeIfAbsent(host, k -> new ArrayList<>())
                            .add(new NumaSnapshot(node, cpus, rs.getInt("free_hugepages")));
                });
        Map<UUID, List<Instant>> endTimes = new HashMap<>();
        jdbc.sql("""
                SELECT host_id, expected_end_at FROM vm
                 WHERE host_id = ANY(?) AND expected_end_at IS NOT NULL AND state NOT IN ('deleted', 'failed')
                """)
                .param(ids)
                .query(rs -> {
                    endTimes.computeIfAbsent(rs.getObject("host_id", UUID.class), k -> new ArrayList<>())
                            .add(rs.getTimestamp("expected_end_at").toInstant());
                });
        Map<UUID, HostSnapshot> byId = new LinkedHashMap<>();
        jdbc.sql("""
                SELECT id, name, location, state, platform, gpu_model, fabric_mode, virtualization_mode,
                       passthrough_capable FROM host WHERE id = ANY(?)
                """)
                .param(ids)
                .query(rs -> {
                    UUID id = rs.getObject("id", UUID.class);
                    byId.put(id, new HostSnapshot(id, rs.getString("name"), rs.getString("location"),
                            rs.getString("state"), rs.getString("platform"), rs.getString("gpu_model"),
                            rs.getString("fabric_mode"), rs.getString("virtualization_mode"),
                            rs.getBoolean("passthrough_capable"), gpus.getOrDefault(id, List.of()),
                            partitions.getOrDefault(id, List.of()), numa.getOrDefault(id, List.of()),
                            endTimes.getOrDefault(id, List.of())));
                });
        List<HostSnapshot> ordered = new ArrayList<>(hostIds.size());
        for (UUID id : hostIds) {
            HostSnapshot h = byId.get(id);
            if (h != null) {
                ordered.add(h);
            }
        }
        return ordered;
    }

    private static Set<Integer> intSet(Array array) throws SQLException {
        Set<Integer> out = new HashSet<>();
        for (int v : ints(array)) {
            out.add(v);
        }
        return out;
    }

    private static int[] ints(Array array) throws SQLException {
        Object[] values = (Object[]) array.getArray();
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = ((Number) values[i]).intValue();
        }
        return out;
    }

    private static List<Integer> parseList(String csv) {
        if (csv == null || csv.isEmpty()) {
            return List.of();
        }
        return Arrays.stream(csv.split(",")).map(Integer::valueOf).toList();
    }

    /** Counts, over the hosts the request could ever use, how many fail each capacity condition. */
    String explainNoCandidates(PlacementRequest r) {
        return jdbc.sql("""
                SELECT count(*) AS hosts,
                       count(*) FILTER (WHERE h.state = 'ready') AS ready,
                       count(*) FILTER (WHERE h.state = 'ready' AND NOT (h.passthrough_capable
                                        AND h.virtualization_mode = 'passthrough')) AS wrong_mode,
                       count(*) FILTER (WHERE h.state = 'ready' AND h.total_gpus - h.used_gpus < ?) AS lack_gpus,
                       count(*) FILTER (WHERE h.state = 'ready' AND h.total_cpus - h.used_cpus < ?) AS lack_cpus,
                       count(*) FILTER (WHERE h.state = 'ready'
                                        AND h.total_hugepages_1g - h.used_hugepages_1g < ?) AS lack_memory
                  FROM host h
                 WHERE (CAST(? AS text) IS NULL OR h.gpu_model = ?)
                   AND (CAST(? AS text) IS NULL OR h.location = ?)
                """)
                .params(r.gpuCount(), r.vcpus(), r.hugepages1g(), r.gpuModel(), r.gpuModel(), r.location(),
                        r.location())
                .query((rs, n) -> {
                    String what = (r.gpuModel() == null ? "" : r.gpuModel() + " ")
                            + (r.location() == null ? "" : "in " + r.location() + " ");
                    StringBuilder sb = new StringBuilder();
                    sb.append(rs.getLong("hosts")).append(" hosts ").append(what).append("known; ")
                            .append(rs.getLong("ready")).append(" ready");
                    if (rs.getLong("wrong_mode") > 0) {
                        sb.append("; ").append(rs.getLong("wrong_mode")).append(" not in passthrough mode");
                    }
                    if (r.gpuCount() > 0) {
                        sb.append("; ").append(rs.getLong("lack_gpus")).append(" lack ").append(r.gpuCount())
                                .append(" free GPUs");
                    }
                    sb.append("; ").append(rs.getLong("lack_cpus")).append(" lack ").append(r.vcpus())
                            .append(" free CPUs; ").append(rs.getLong("lack_memory")).append(" lack ")
                            .append(r.hugepages1g()).append(" GiB of free hugepages");
                    return sb.toString();
                })
                .single();
    }
}
