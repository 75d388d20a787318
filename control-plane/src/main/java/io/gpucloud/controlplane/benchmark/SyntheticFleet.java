package io.gpucloud.controlplane.benchmark;

import io.gpucloud.placement.PartitionTables;
import java.util.List;
import java.util.stream.Collectors;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Bulk-inserts ready HGX hosts straight into the inventory tables (no workers), for placement
 * tests and benchmarks at fleet scale: 8 GPUs behind 2 NUMA nodes, 224 logical CPUs numbered
 * interleaved (even CPUs on node 0), 1,920 x 1 GiB hugepages, module ids not in bus order, and the
 * platform's default partition table. Models rotate H100, H200, B200.
 */
public class SyntheticFleet {

    /** bus number of GPU i and its module id (the order seen on a real HGX H100 board) */
    private static final String[] BUSES = {"18", "2a", "3a", "5d", "9a", "ab", "ba", "db"};
    private static final int[] MODULES = {2, 4, 1, 3, 6, 8, 5, 7};

    private final JdbcClient jdbc;
    private final TransactionTemplate tx;

    public SyntheticFleet(JdbcClient jdbc, TransactionTemplate tx) {
        this.jdbc = jdbc;
        this.tx = tx;
    }

    /**
     * Inserts {@code count} hosts named {@code prefix-00001...} in {@code location}; models rotate
     * through {@code models} (subset of H100-SXM5-80GB, H200-SXM-141GB, B200-SXM-180GB).
     */
    public void create(String prefix, String location, int count, List<String> models) {
        tx.executeWithoutResult(s -> {
            jdbc.sql("""
                    INSERT INTO host (id, name, location, state, platform, gpu_model, fabric_mode, fabric_source,
                                      total_gpus, total_cpus, total_memory_mib, total_hugepages_1g, last_heartbeat_at,
                                      topology_reported_at)
                    SELECT gen_random_uuid(), ? || '-' || lpad(i::text, 5, '0'), ?, 'ready',
                           CASE m.model WHEN 'B200-SXM-180GB' THEN 'HGX_B200_8'
                                        WHEN 'H200-SXM-141GB' THEN 'HGX_H200_8' ELSE 'HGX_H100_8' END,
                           m.model, 'SHARED_NVSWITCH', 'builtin', 8, 224, 2097152, 1920, now(), now()
                      FROM generate_series(1, ?) AS i
                      JOIN LATERAL (SELECT (?::text[])[1 + (i - 1) % cardinality(?::text[])] AS model) m ON true
                    """)
                    .params(prefix, location, count, models.toArray(String[]::new), models.toArray(String[]::new))
                    .update();
            String hosts = "SELECT id, gpu_model FROM host WHERE name LIKE ? || '-%' AND location = ?";
            jdbc.sql("INSERT INTO numa_node (host_id, node_id, memory_mib, total_cpus, hugepages_1g_total) "
                    + "SELECT h.id, n, 1048576, 112, 960 FROM (" + hosts + ") h, generate_series(0, 1) n")
                    .params(prefix, location).update();
            jdbc.sql("""
                    INSERT INTO cpu (host_id, cpu_id, socket_id, core_id, node_id, siblings)
                    SELECT h.id, c, c % 2, (c % 112) / 2, c % 2, ARRAY[c % 112, c % 112 + 112]
                      FROM (""" + hosts + ") h, generate_series(0, 223) c")
                    .params(prefix, location).update();
            jdbc.sql("""
                    INSERT INTO pci_device (host_id, bdf, vendor_id, device_id, class_code, kind, model, numa_node,
                                            iommu_group, driver, module_id)
                    SELECT h.id, '0000:' || (?::text[])[g + 1] || ':00.0', '10de',
                           CASE h.gpu_model WHEN 'B200-SXM-180GB' THEN '2901' WHEN 'H200-SXM-141GB' THEN '2335'
                                            ELSE '2330' END,
                           '030200', 'gpu', h.gpu_model, g / 4, 10 + g, 'vfio-pci', (?::int[])[g + 1]
                      FROM (""" + hosts + ") h, generate_series(0, 7) g")
                    .params(BUSES, toIntegers(MODULES), prefix, location).update();
            insertPartitions(hosts, prefix, location, "B200-SXM-180GB", PartitionTables.HGX_B200);
            insertPartitionsForH(hosts, prefix, location);
            jdbc.sql("""
                    INSERT INTO gpu_partition_member (partition_row_id, device_id)
                    SELECT p.id, d.id FROM gpu_partition p
                      JOIN host h ON h.id = p.host_id
                      JOIN pci_device d ON d.host_id = p.host_id AND d.kind = 'gpu' AND d.module_id = ANY(p.module_ids)
                     WHERE h.name LIKE ? || '-%' AND h.location = ?
                    """).params(prefix, location).update();
        });
        jdbc.sql("ANALYZE").update();
    }

    private void insertPartitionsForH(String hosts, String prefix, String location) {
        for (String model : List.of("H100-SXM5-80GB", "H200-SXM-141GB")) {
            insertPartitions(hosts, prefix, location, model, PartitionTables.HGX_H100);
        }
    }

    private void insertPartitions(String hosts, String prefix, String location, String model,
                                  PartitionTables.Table table) {
        String values = table.entries().stream()
                .map(e -> "(" + e.partitionId() + ", ARRAY[" + e.moduleIds().stream().sorted().map(String::valueOf)
                        .collect(Collectors.joining(",")) + "])")
                .collect(Collectors.joining(", "));
        jdbc.sql("INSERT INTO gpu_partition (host_id, partition_id, gpu_count, module_ids) "
                        + "SELECT h.id, t.pid, cardinality(t.modules), t.modules FROM (" + hosts + ") h, (VALUES "
                        + values + ") AS t(pid, modules) WHERE h.gpu_model = ?")
                .params(prefix, location, model).update();
    }

    private static Integer[] toIntegers(int[] values) {
        Integer[] out = new Integer[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }
}
