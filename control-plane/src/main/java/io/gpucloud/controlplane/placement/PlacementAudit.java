package io.gpucloud.controlplane.placement;

import java.util.ArrayList;
import java.util.List;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * SQL audit of the allocation state: nothing held twice, every counter equal to the rows it
 * caches. Tests and benchmarks run it after hammering the claim path; operators can too.
 */
@Component
public class PlacementAudit {

    private record Check(String violation, String countSql) {
    }

    // Set-based (GROUP BY joins, no correlated subqueries) so it stays seconds on a 10,000-host fleet.
    private static final List<Check> CHECKS = List.of(
            new Check("overlapping partitions allocated at once", """
                SELECT count(*) FROM gpu_partition_member a
                  JOIN gpu_partition_member b ON a.device_id = b.device_id AND a.partition_row_id < b.partition_row_id
                  JOIN gpu_partition pa ON pa.id = a.partition_row_id
                  JOIN gpu_partition pb ON pb.id = b.partition_row_id
                 WHERE pa.vm_id IS NOT NULL AND pb.vm_id IS NOT NULL
                """),
            new Check("partition members not held by the partition's VM", """
                SELECT count(*) FROM gpu_partition p JOIN gpu_partition_member m ON m.partition_row_id = p.id
                  JOIN pci_device d ON d.id = m.device_id
                 WHERE p.vm_id IS NOT NULL AND d.vm_id IS DISTINCT FROM p.vm_id
                """),
            new Check("GPUs held without their VM's partition", """
                SELECT count(*) FROM pci_device d JOIN host h ON h.id = d.host_id
                 WHERE d.kind = 'gpu' AND d.vm_id IS NOT NULL AND h.fabric_mode = 'SHARED_NVSWITCH'
                   AND NOT EXISTS (SELECT 1 FROM gpu_partition_member m JOIN gpu_partition p ON p.id = m.partition_row_id
                                    WHERE m.device_id = d.id AND p.vm_id = d.vm_id)
                """),
            new Check("placed VMs holding other than what they asked for", """
                SELECT count(*) FROM vm v
                  LEFT JOIN (SELECT vm_id, count(*) AS n FROM pci_device WHERE vm_id IS NOT NULL AND kind = 'gpu'
                              GROUP BY vm_id) g ON g.vm_id = v.id
                  LEFT JOIN (SELECT vm_id, sum(hugepages_1g) AS n FROM vm_hugepages GROUP BY vm_id) p ON p.vm_id = v.id
                 WHERE v.host_id IS NOT NULL
                   AND (v.gpu_count <> coalesce(g.n, 0) OR v.vcpus > cardinality(v.cpu_ids)
                        OR (v.memory_mib + 1023) / 1024 <> coalesce(p.n, 0))
                """),
            new Check("devices held on another host than the VM's, or by an unplaced VM", """
                SELECT count(*) FROM pci_device d JOIN vm v ON v.id = d.vm_id
                 WHERE v.host_id IS NULL OR d.host_id <> v.host_id
                """),
            new Check("VMs holding more than one partition", """
                SELECT count(*) FROM (SELECT vm_id FROM gpu_partition WHERE vm_id IS NOT NULL
                                       GROUP BY vm_id HAVING count(*) > 1) twice
                """),
            new Check("partitions held on another host than the VM's, or by an unplaced VM", """
                SELECT count(*) FROM gpu_partition p JOIN vm v ON v.id = p.vm_id
                 WHERE v.host_id IS NULL OR p.host_id <> v.host_id
                """),
            new Check("CPUs held by two VMs at once", """
                SELECT count(*) FROM (SELECT 1 FROM vm_cpu GROUP BY host_id, cpu_id HAVING count(*) > 1) twice
                """),
            new Check("CPUs held that their host does not have", """
                SELECT count(*) FROM vm_cpu h LEFT JOIN cpu c ON c.host_id = h.host_id AND c.cpu_id = h.cpu_id
                 WHERE c.cpu_id IS NULL
                """),
            new Check("host counters that differ from the rows they cache", """
                SELECT count(*) FROM host h
                  LEFT JOIN (SELECT host_id, count(*) AS n FROM pci_device WHERE kind = 'gpu' AND vm_id IS NOT NULL
                              GROUP BY host_id) g ON g.host_id = h.id
                  LEFT JOIN (SELECT host_id, count(*) AS n FROM vm_cpu GROUP BY host_id) c ON c.host_id = h.id
                  LEFT JOIN (SELECT host_id, sum(hugepages_1g) AS n FROM vm_hugepages GROUP BY host_id) p
                         ON p.host_id = h.id
                  LEFT JOIN (SELECT host_id, sum(memory_mib) AS n FROM vm WHERE host_id IS NOT NULL GROUP BY host_id) m
                         ON m.host_id = h.id
                 WHERE h.used_gpus <> coalesce(g.n, 0) OR h.used_cpus <> coalesce(c.n, 0)
                    OR h.used_hugepages_1g <> coalesce(p.n, 0) OR h.used_memory_mib <> coalesce(m.n, 0)
                """),
            new Check("NUMA counters that differ from the rows they cache", """
                SELECT count(*) FROM numa_node n
                  LEFT JOIN (SELECT h.host_id, c.node_id, count(*) AS n, array_agg(h.cpu_id ORDER BY h.cpu_id) AS ids
                               FROM vm_cpu h JOIN cpu c ON c.host_id = h.host_id AND c.cpu_id = h.cpu_id
                              GROUP BY h.host_id, c.node_id) c
                         ON c.host_id = n.host_id AND c.node_id = n.node_id
                  LEFT JOIN (SELECT host_id, node_id, sum(hugepages_1g) AS n FROM vm_hugepages GROUP BY host_id, node_id) p
                         ON p.host_id = n.host_id AND p.node_id = n.node_id
                 WHERE n.used_cpus <> coalesce(c.n, 0) OR n.hugepages_1g_used <> coalesce(p.n, 0)
                    OR ARRAY(SELECT unnest(n.held_cpus) ORDER BY 1) <> coalesce(c.ids, '{}')
                """)
    );

    private final JdbcClient jdbc;

    public PlacementAudit(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    /** One line per violated invariant with its count; empty when all hold. */
    public List<String> violations() {
        List<String> out = new ArrayList<>();
        for (Check c : CHECKS) {
            long n = jdbc.sql(c.countSql()).query(Long.class).single();
            if (n != 0) {
                out.add(c.violation() + ": " + n);
            }
        }
        return out;
    }
}
