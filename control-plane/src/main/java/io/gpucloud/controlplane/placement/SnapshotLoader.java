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
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.TransactionDefinition;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Turns rows into the {@link HostSnapshot}s the policy reads. A first query narrows 10,000 hosts
 * to a few dozen plausible ones using the cached counters (best fit first, empty boards last for
 * small requests, a random tie-break so concurrent requests spread over equals); four more, in one
 * read-only transaction, load exactly those hosts.
 */
@Component
class SnapshotLoader {

    private final JdbcClient jdbc;
    private final CpuTopologyCache cpuTopology;
    private final TransactionTemplate readTx;

    SnapshotLoader(JdbcClient jdbc, TransactionTemplate tx) {
        this.jdbc = jdbc;
        this.cpuTopology = new CpuTopologyCache(jdbc);
        // One connection and one view of the database for a host's rows: the host row's version then
        // describes exactly the devices, partitions and CPUs read with it. (Statements each on their
        // own also queued for a connection each, five times per load under load.)
        this.readTx = new TransactionTemplate(tx.getTransactionManager());
        readTx.setReadOnly(true);
        readTx.setIsolationLevel(TransactionDefinition.ISOLATION_REPEATABLE_READ);
    }

    List<UUID> candidateHostIds(PlacementRequest r, int limit) {
        UUID[] hostFilter = r.hostIds().toArray(UUID[]::new);
        return jdbc.sql("""
                SELECT h.id FROM host h
                 WHERE h.state = 'ready' AND h.passthrough_capable AND h.virtualization_mode = 'passthrough'
                   AND h.virtualization_status = 'ready'
                   AND (CAST(? AS text) IS NULL OR h.gpu_model = ?)
                   AND (CAST(? AS text) IS NULL OR h.location = ?)
                   AND (cardinality(CAST(? AS uuid[])) = 0 OR h.id = ANY(CAST(? AS uuid[])))
                   AND (CAST(? AS text) IS NULL OR h.boot_images IS NULL OR ? = ANY(h.boot_images))
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
                        r.bootImage(), r.bootImage(), r.gpuCount(), r.vcpus(), r.hugepages1g(), r.memoryMiB(),
                        r.gpuCount(), r.gpuCount(), limit)
                .query(UUID.class).list();
    }

    /** Snapshots plus each host's row (allocation version, counters) when they were read. */
    record Loaded(List<HostSnapshot> hosts, Map<UUID, Long> versions, Map<UUID, FleetCache.HostRow> rows) {
    }

    Loaded load(List<UUID> hostIds, boolean withLifetimes) {
        if (hostIds.isEmpty()) {
            return new Loaded(List.of(), Map.of(), Map.of());
        }
        return readTx.execute(status -> read(hostIds, withLifetimes));
    }

    private Loaded read(List<UUID> hostIds, boolean withLifetimes) {
        UUID[] ids = hostIds.toArray(UUID[]::new);
        // host rows first: their topology version tells whether the cached CPU layout is current
        Map<UUID, Instant> versions = new HashMap<>();
        Map<UUID, Long> allocVersions = new HashMap<>();
        Map<UUID, FleetCache.HostRow> rows = new HashMap<>();
        List<Object[]> hostRows = new ArrayList<>();
        jdbc.sql("SELECT name, platform, fabric_mode, " + FleetCache.ROW_COLUMNS + " FROM host WHERE id = ANY(?)")
                .param(ids)
                .query(rs -> {
                    rows.put(rs.getObject("id", UUID.class), FleetCache.row(rs));
                    UUID id = rs.getObject("id", UUID.class);
                    java.sql.Timestamp ts = rs.getTimestamp("topology_reported_at");
                    versions.put(id, ts == null ? Instant.EPOCH : ts.toInstant());
                    allocVersions.put(id, rs.getLong("alloc_version"));
                    hostRows.add(new Object[] {id, rs.getString("name"), rs.getString("location"),
                            rs.getString("state"), rs.getString("platform"), rs.getString("gpu_model"),
                            rs.getString("fabric_mode"), rs.getString("virtualization_mode"),
                            rs.getBoolean("passthrough_capable")});
                });
        Map<UUID, List<GpuSnapshot>> gpus = new HashMap<>();
        jdbc.sql("""
                SELECT host_id, id, bdf, module_id, numa_node, iommu_group, health = 'ok' AS healthy,
                       vm_id IS NOT NULL AS held
                  FROM pci_device WHERE host_id = ANY(?) AND kind = 'gpu' AND health <> 'missing' ORDER BY id
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
                  FROM gpu_partition WHERE host_id = ANY(?) ORDER BY id
                """)
                .param(ids)
                .query(rs -> {
                    partitions.computeIfAbsent(rs.getObject("host_id", UUID.class), k -> new ArrayList<>())
                            .add(new PartitionSnapshot(rs.getLong("id"), rs.getInt("partition_id"),
                                    intSet(rs.getArray("module_ids")), rs.getBoolean("available"),
                                    rs.getBoolean("allocated")));
                });
        Map<UUID, Map<Integer, List<NumaSnapshot.FreeCpu>>> topology = cpuTopology.get(versions);
        Map<UUID, List<NumaSnapshot>> numa = new HashMap<>();
        jdbc.sql("""
                SELECT host_id, node_id, hugepages_1g_total - hugepages_1g_used AS free_hugepages, held_cpus
                  FROM numa_node WHERE host_id = ANY(?) ORDER BY node_id
                """)
                .param(ids)
                .query(rs -> {
                    UUID host = rs.getObject("host_id", UUID.class);
                    int node = rs.getInt("node_id");
                    int[] held = ints(rs.getArray("held_cpus"));
                    List<NumaSnapshot.FreeCpu> all = topology.getOrDefault(host, Map.of()).getOrDefault(node, List.of());
                    List<NumaSnapshot.FreeCpu> free;
                    if (held.length == 0) {
                        free = all;
                    } else {
                        java.util.BitSet heldSet = new java.util.BitSet();
                        for (int c : held) {
                            heldSet.set(c);
                        }
                        free = new ArrayList<>(all.size());
                        for (NumaSnapshot.FreeCpu c : all) {
                            if (!heldSet.get(c.cpuId())) {
                                free.add(c);
                            }
                        }
                    }
                    numa.computeIfAbsent(host, k -> new ArrayList<>())
                            .add(new NumaSnapshot(node, free, rs.getInt("free_hugepages")));
                });
        Map<UUID, List<Instant>> endTimes = withLifetimes ? endTimes(hostIds) : Map.of();
        Map<UUID, HostSnapshot> byId = new HashMap<>();
        for (Object[] r : hostRows) {
            UUID id = (UUID) r[0];
            byId.put(id, new HostSnapshot(id, (String) r[1], (String) r[2], (String) r[3], (String) r[4],
                    (String) r[5], (String) r[6], (String) r[7], (Boolean) r[8], gpus.getOrDefault(id, List.of()),
                    partitions.getOrDefault(id, List.of()), numa.getOrDefault(id, List.of()),
                    endTimes.getOrDefault(id, List.of()), rows.get(id).bootImages()));
        }
        List<HostSnapshot> ordered = new ArrayList<>(hostIds.size());
        for (UUID id : hostIds) {
            HostSnapshot h = byId.get(id);
            if (h != null) {
                ordered.add(h);
            }
        }
        return new Loaded(ordered, allocVersions, rows);
    }

    /** The CPU layout of one host at this topology version (cached), or null if the host has none. */
    Map<Integer, List<NumaSnapshot.FreeCpu>> topology(UUID hostId, Instant version) {
        return cpuTopology.get(Map.of(hostId, version)).get(hostId);
    }

    /** Expected end of every live VM on these hosts (lifetime-aware scoring). */
    Map<UUID, List<Instant>> endTimes(List<UUID> hostIds) {
        Map<UUID, List<Instant>> endTimes = new HashMap<>();
        jdbc.sql("""
                SELECT v.host_id, v.expected_end_at FROM vm v
                 WHERE v.id IN (SELECT vm_id FROM vm_hugepages WHERE host_id = ANY(?))
                   AND v.expected_end_at IS NOT NULL AND v.state NOT IN ('deleted', 'failed')
                """)
                .param(hostIds.toArray(UUID[]::new))
                .query(rs -> {
                    endTimes.computeIfAbsent(rs.getObject("host_id", UUID.class), k -> new ArrayList<>())
                            .add(rs.getTimestamp("expected_end_at").toInstant());
                });
        return endTimes;
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
                       count(*) FILTER (WHERE h.state = 'ready'
                                        AND h.virtualization_status = 'switching') AS switching,
                       count(*) FILTER (WHERE h.state = 'ready'
                                        AND h.virtualization_status = 'switch_failed') AS switch_failed,
                       count(*) FILTER (WHERE h.state = 'ready' AND CAST(? AS text) IS NOT NULL
                                        AND h.boot_images IS NOT NULL AND NOT ? = ANY(h.boot_images)) AS lack_image,
                       count(*) FILTER (WHERE h.state = 'ready' AND h.total_gpus - h.used_gpus < ?) AS lack_gpus,
                       count(*) FILTER (WHERE h.state = 'ready' AND h.total_cpus - h.used_cpus < ?) AS lack_cpus,
                       count(*) FILTER (WHERE h.state = 'ready'
                                        AND h.total_hugepages_1g - h.used_hugepages_1g < ?) AS lack_memory
                  FROM host h
                 WHERE (CAST(? AS text) IS NULL OR h.gpu_model = ?)
                   AND (CAST(? AS text) IS NULL OR h.location = ?)
                """)
                .params(r.bootImage(), r.bootImage(), r.gpuCount(), r.vcpus(), r.hugepages1g(), r.gpuModel(),
                        r.gpuModel(), r.location(), r.location())
                .query((rs, n) -> {
                    String what = (r.gpuModel() == null ? "" : r.gpuModel() + " ")
                            + (r.location() == null ? "" : "in " + r.location() + " ");
                    StringBuilder sb = new StringBuilder();
                    sb.append(rs.getLong("hosts")).append(" hosts ").append(what).append("known; ")
                            .append(rs.getLong("ready")).append(" ready");
                    if (rs.getLong("wrong_mode") > 0) {
                        sb.append("; ").append(rs.getLong("wrong_mode")).append(" not in passthrough mode");
                    }
                    if (rs.getLong("switching") > 0) {
                        sb.append("; ").append(rs.getLong("switching")).append(" switching GPU virtualization mode");
                    }
                    if (rs.getLong("switch_failed") > 0) {
                        sb.append("; ").append(rs.getLong("switch_failed"))
                                .append(" failed a GPU virtualization mode switch");
                    }
                    if (rs.getLong("lack_image") > 0) {
                        sb.append("; ").append(rs.getLong("lack_image")).append(" lack the boot image ")
                                .append(io.gpucloud.placement.filter.BootImageFilter.fileName(r.bootImage()));
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
