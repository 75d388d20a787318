package io.gpucloud.controlplane.placement;

import io.gpucloud.placement.NumaSnapshot;
import java.sql.Array;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * Which CPUs each NUMA node has, with their cores and hyperthread siblings. This changes only when
 * a worker reports a new topology, so it is read once per host and version (the host's
 * {@code topology_reported_at}) instead of 224 rows per host per placement; which of them are held
 * comes fresh from {@code numa_node.held_cpus} every time.
 */
final class CpuTopologyCache {

    private record Entry(Instant version, Map<Integer, List<NumaSnapshot.FreeCpu>> byNode) {
    }

    private final JdbcClient jdbc;
    private final Map<UUID, Entry> cache = new ConcurrentHashMap<>();
    private final Map<List<NumaSnapshot.FreeCpu>, List<NumaSnapshot.FreeCpu>> layouts = new ConcurrentHashMap<>();

    CpuTopologyCache(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    /** All CPUs per host and node, for hosts at the given topology versions. */
    Map<UUID, Map<Integer, List<NumaSnapshot.FreeCpu>>> get(Map<UUID, Instant> versions) {
        Map<UUID, Map<Integer, List<NumaSnapshot.FreeCpu>>> out = new HashMap<>();
        List<UUID> stale = new ArrayList<>();
        versions.forEach((host, version) -> {
            Entry e = cache.get(host);
            if (e != null && e.version().equals(version)) {
                out.put(host, e.byNode());
            } else {
                stale.add(host);
            }
        });
        if (!stale.isEmpty()) {
            Map<UUID, Map<Integer, List<NumaSnapshot.FreeCpu>>> loaded = new HashMap<>();
            jdbc.sql("""
                    SELECT host_id, node_id, cpu_id, socket_id * 65536 + core_id AS core_key, siblings
                      FROM cpu WHERE host_id = ANY(?) ORDER BY host_id, node_id, cpu_id
                    """)
                    .param(stale.toArray(UUID[]::new))
                    .query(rs -> {
                        loaded.computeIfAbsent(rs.getObject("host_id", UUID.class), k -> new HashMap<>())
                                .computeIfAbsent(rs.getInt("node_id"), k -> new ArrayList<>())
                                .add(new NumaSnapshot.FreeCpu(rs.getInt("cpu_id"), rs.getInt("core_key"),
                                        ints(rs.getArray("siblings"))));
                    });
            for (UUID host : stale) {
                Map<Integer, List<NumaSnapshot.FreeCpu>> byNode = new HashMap<>();
                // hosts of one platform share a layout: keep one copy of it, not one per host
                loaded.getOrDefault(host, Map.of()).forEach((node, cpus) ->
                        byNode.put(node, layouts.computeIfAbsent(List.copyOf(cpus), k -> k)));
                cache.put(host, new Entry(versions.get(host), byNode));
                out.put(host, byNode);
            }
        }
        return out;
    }

    private static List<Integer> ints(Array array) throws SQLException {
        Object[] values = (Object[]) array.getArray();
        List<Integer> out = new ArrayList<>(values.length);
        for (Object v : values) {
            out.add(((Number) v).intValue());
        }
        return out;
    }
}
