package io.gpucloud.controlplane.placement;

import io.gpucloud.placement.Placement;
import io.gpucloud.placement.PlacementRequest;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;

/**
 * Makes a placement true in the database, or fails without a trace. Every write is conditional
 * ({@code WHERE vm_id IS NULL}) and its row count is checked: device rows are the single source
 * of truth, so two VMs racing for overlapping partitions collide on the GPUs they share. Counters
 * are caches guarded by CHECK constraints; a violation means the snapshot was stale.
 */
@Component
class PlacementClaims {

    /** The snapshot was stale: someone else got there first. Nothing was written. */
    static class ClaimConflict extends RuntimeException {
        ClaimConflict(String message) {
            super(message, null, false, false);
        }
    }

    private final JdbcClient jdbc;

    PlacementClaims(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    /** Runs inside the caller's transaction, which holds the host's row lock. */
    @Transactional(propagation = Propagation.MANDATORY)
    public void claim(PlacementRequest request, Placement p) {
        UUID vm = request.vmId();
        UUID host = p.hostId();
        if (p.partitionRowId() != null) {
            expect(jdbc.sql("""
                    UPDATE gpu_partition SET vm_id = ? WHERE id = ? AND host_id = ? AND vm_id IS NULL AND available
                    """).params(vm, p.partitionRowId(), host).update(), 1, "partition");
        }
        if (!p.gpuDeviceIds().isEmpty()) {
            Long[] gpus = p.gpuDeviceIds().toArray(Long[]::new);
            expect(jdbc.sql("""
                    UPDATE pci_device SET vm_id = ? WHERE id = ANY(?) AND host_id = ? AND kind = 'gpu'
                       AND vm_id IS NULL AND health = 'ok'
                    """).params(vm, gpus, host).update(), gpus.length, "GPUs");
            // A GPU's sibling functions (audio, USB-C controller) share its IOMMU group and go with it.
            int free = jdbc.sql("""
                    UPDATE pci_device s SET vm_id = ?
                      FROM pci_device g
                     WHERE g.id = ANY(?) AND s.host_id = g.host_id AND s.iommu_group = g.iommu_group
                       AND s.kind NOT IN ('gpu', 'bridge', 'nvswitch') AND s.vm_id IS NULL
                    """).params(vm, gpus).update();
            long siblings = jdbc.sql("""
                    SELECT count(*) FROM pci_device s JOIN pci_device g
                        ON s.host_id = g.host_id AND s.iommu_group = g.iommu_group
                     WHERE g.id = ANY(?) AND s.kind NOT IN ('gpu', 'bridge', 'nvswitch')
                    """).param(gpus).query(Long.class).single();
            expect(free, (int) siblings, "IOMMU group siblings");
        }
        if (!p.cpuIds().isEmpty()) {
            Integer[] cpus = p.cpuIds().toArray(Integer[]::new);
            expect(jdbc.sql("UPDATE cpu SET vm_id = ? WHERE host_id = ? AND cpu_id = ANY(?) AND vm_id IS NULL")
                    .params(vm, host, cpus).update(), cpus.length, "CPUs");
            jdbc.sql("""
                    UPDATE numa_node n SET used_cpus = n.used_cpus + c.taken
                      FROM (SELECT node_id, count(*) AS taken FROM cpu WHERE host_id = ? AND cpu_id = ANY(?)
                             GROUP BY node_id) c
                     WHERE n.host_id = ? AND n.node_id = c.node_id
                    """).params(host, cpus, host).update();
        }
        long hugepages = 0;
        for (Map.Entry<Integer, Integer> e : p.hugepagesByNode().entrySet()) {
            if (e.getValue() <= 0) {
                continue;
            }
            hugepages += e.getValue();
            jdbc.sql("INSERT INTO vm_hugepages (vm_id, host_id, node_id, hugepages_1g) VALUES (?, ?, ?, ?)")
                    .params(vm, host, e.getKey(), e.getValue()).update();
            jdbc.sql("UPDATE numa_node SET hugepages_1g_used = hugepages_1g_used + ? WHERE host_id = ? AND node_id = ?")
                    .params(e.getValue(), host, e.getKey()).update();
        }
        expect(jdbc.sql("""
                UPDATE host SET used_gpus = used_gpus + ?, used_cpus = used_cpus + ?,
                       used_memory_mib = used_memory_mib + ?, used_hugepages_1g = used_hugepages_1g + ?
                 WHERE id = ? AND state = 'ready'
                """).params(p.gpuDeviceIds().size(), p.cpuIds().size(), request.memoryMiB(), hugepages, host)
                .update(), 1, "host (no longer ready)");
        List<Integer> nodes = p.hugepagesByNode().keySet().stream().sorted().toList();
        expect(jdbc.sql("""
                UPDATE vm SET host_id = ?, numa_nodes = ?, updated_at = now(),
                       expected_end_at = CASE WHEN CAST(? AS bigint) IS NULL THEN NULL
                                              ELSE now() + make_interval(secs => CAST(? AS bigint)) END
                 WHERE id = ? AND host_id IS NULL
                """).params(host, nodes.toArray(Integer[]::new), seconds(request), seconds(request), vm).update(),
                1, "VM (already placed)");
    }

    private static Long seconds(PlacementRequest r) {
        return r.expectedDuration() == null ? null : r.expectedDuration().toSeconds();
    }

    /** Gives back everything a VM holds, in one transaction; safe to repeat. */
    @Transactional
    public void release(UUID vm) {
        UUID host = jdbc.sql("SELECT host_id FROM vm WHERE id = ? FOR UPDATE").param(vm).query(UUID.class)
                .optional().orElse(null);
        if (host == null) {
            return;
        }
        // Same lock order as a claim (host row first), so a release and a claim on one host never deadlock.
        jdbc.sql("SELECT id FROM host WHERE id = ? FOR NO KEY UPDATE").param(host).query(UUID.class).single();
        jdbc.sql("UPDATE gpu_partition SET vm_id = NULL WHERE vm_id = ?").param(vm).update();
        int gpus = jdbc.sql("""
                WITH released AS (UPDATE pci_device SET vm_id = NULL WHERE vm_id = ? RETURNING kind)
                SELECT count(*) FROM released WHERE kind = 'gpu'
                """).param(vm).query(Integer.class).single();
        List<int[]> cpuNodes = jdbc.sql("""
                WITH released AS (UPDATE cpu SET vm_id = NULL WHERE vm_id = ? RETURNING node_id)
                SELECT node_id, count(*) FROM released GROUP BY node_id
                """).param(vm).query((rs, n) -> new int[] {rs.getInt(1), rs.getInt(2)}).list();
        int cpus = 0;
        for (int[] c : cpuNodes) {
            cpus += c[1];
            jdbc.sql("UPDATE numa_node SET used_cpus = used_cpus - ? WHERE host_id = ? AND node_id = ?")
                    .params(c[1], host, c[0]).update();
        }
        List<int[]> pages = jdbc.sql("DELETE FROM vm_hugepages WHERE vm_id = ? RETURNING node_id, hugepages_1g")
                .param(vm).query((rs, n) -> new int[] {rs.getInt(1), rs.getInt(2)}).list();
        int hugepages = 0;
        for (int[] pg : pages) {
            hugepages += pg[1];
            jdbc.sql("UPDATE numa_node SET hugepages_1g_used = hugepages_1g_used - ? WHERE host_id = ? AND node_id = ?")
                    .params(pg[1], host, pg[0]).update();
        }
        long memory = jdbc.sql("SELECT memory_mib FROM vm WHERE id = ?").param(vm).query(Long.class).single();
        jdbc.sql("""
                UPDATE host SET used_gpus = used_gpus - ?, used_cpus = used_cpus - ?,
                       used_memory_mib = used_memory_mib - ?, used_hugepages_1g = used_hugepages_1g - ?
                 WHERE id = ?
                """).params(gpus, cpus, memory, hugepages, host).update();
        jdbc.sql("UPDATE vm SET host_id = NULL, numa_nodes = '{}', updated_at = now() WHERE id = ?").param(vm).update();
    }

    private static void expect(int actual, int expected, String what) {
        if (actual != expected) {
            throw new ClaimConflict(what + ": claimed " + actual + " of " + expected);
        }
    }
}
