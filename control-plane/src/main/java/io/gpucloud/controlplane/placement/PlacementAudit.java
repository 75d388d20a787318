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
                   AND NOT EXISTS (SELECT 1 FROM gpu_partition p JOIN gpu_partition_member m ON m.partition_row_id = p.id
                                    WHERE m.device_id = d.id AND p.vm_id = d.vm_id)
                """),
            new Check("placed VMs holding other than what they asked for", """
                SELECT count(*) FROM vm v
                 WHERE v.host_id IS NOT NULL AND (
                       v.gpu_count <> (SELECT count(*) FROM pci_device d WHERE d.vm_id = v.id AND d.kind = 'gpu')
                    OR v.vcpus <> (SELECT count(*) FROM cpu c WHERE c.vm_id = v.id)
                    OR (v.memory_mib + 1023) / 1024 <> (SELECT coalesce(sum(hugepages_1g), 0) FROM vm_hugepages x WHERE x.vm_id = v.id))
                """),
            new Check("resources held on another host than the VM's, or by an unplaced VM", """
                SELECT (SELECT count(*) FROM pci_device d JOIN vm v ON v.id = d.vm_id WHERE d.host_id <> v.host_id OR v.host_id IS NULL)
                     + (SELECT count(*) FROM cpu c JOIN vm v ON v.id = c.vm_id WHERE c.host_id <> v.host_id OR v.host_id IS NULL)
                """),
            new Check("host counters that differ from the rows they cache", """
                SELECT count(*) FROM host h
                 WHERE h.used_gpus <> (SELECT count(*) FROM pci_device d WHERE d.host_id = h.id AND d.kind = 'gpu' AND d.vm_id IS NOT NULL)
                    OR h.used_cpus <> (SELECT count(*) FROM cpu c WHERE c.host_id = h.id AND c.vm_id IS NOT NULL)
                    OR h.used_hugepages_1g <> (SELECT coalesce(sum(x.hugepages_1g), 0) FROM vm_hugepages x WHERE x.host_id = h.id)
                    OR h.used_memory_mib <> (SELECT coalesce(sum(v.memory_mib), 0) FROM vm v WHERE v.host_id = h.id)
                """),
            new Check("NUMA counters that differ from the rows they cache", """
                SELECT count(*) FROM numa_node n
                 WHERE n.used_cpus <> (SELECT count(*) FROM cpu c WHERE c.host_id = n.host_id AND c.node_id = n.node_id AND c.vm_id IS NOT NULL)
                    OR n.hugepages_1g_used <> (SELECT coalesce(sum(x.hugepages_1g), 0) FROM vm_hugepages x
                                               WHERE x.host_id = n.host_id AND x.node_id = n.node_id)
                """)
,
            new Check("NUMA held-CPU caches that differ from the CPU rows", """
                SELECT count(*) FROM numa_node n
                 WHERE ARRAY(SELECT unnest(n.held_cpus) ORDER BY 1) <> ARRAY(SELECT c.cpu_id FROM cpu c
                        WHERE c.host_id = n.host_id AND c.node_id = n.node_id AND c.vm_id IS NOT NULL ORDER BY 1)
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
