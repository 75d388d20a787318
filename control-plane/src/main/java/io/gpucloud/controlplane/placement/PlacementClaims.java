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
            int[] siblings = jdbc.sql("""
                    WITH sib AS (SELECT s.id, s.vm_id FROM pci_device s JOIN pci_device g
                                     ON s.host_id = g.host_id AND s.iommu_group = g.iommu_group
                                  WHERE g.id = ANY(?) AND s.kind NOT IN ('gpu', 'bridge', 'nvswitch')),
                         taken AS (UPDATE pci_device d SET vm_id = ? FROM sib
                                    WHERE d.id = sib.id AND sib.vm_id IS NULL RETURNING 1)
                    SELECT (SELECT count(*) FROM sib), (SELECT count(*) FROM taken)
                    """).params(gpus, vm).query((rs, n) -> new int[] {rs.getInt(1), rs.getInt(2)}).single();
            expect(siblings[1], siblings[0], "IOMMU group siblings");
        }
        if (!p.cpuIds().isEmpty()) {
            Integer[] cpus = p.cpuIds().toArray(Integer[]::new);
            expect(jdbc.sql("UPDATE cpu SET vm_id = ? WHERE host_id = ? AND cpu_id = ANY(?) AND vm_id IS NULL")
                    .params(vm, host, cpus).update(), cpus.length, "CPUs");
            jdbc.sql("""
                    UPDATE numa_node n SET used_cpus = n.used_cpus + c.taken, held_cpus = n.held_cpus || c.ids
                      FROM (SELECT node_id, count(*) AS taken, array_agg(cpu_id) AS ids FROM cpu
                             WHERE host_id = ? AND cpu_id = ANY(?) GROUP BY node_id) c
                     WHERE n.host_id = ? AND n.node_id = c.node_id
                    """).params(host, cpus, host).update();
        }
        Integer[] nodes = p.hugepagesByNode().entrySet().stream().filter(e -> e.getValue() > 0)
                .map(Map.Entry::getKey).sorted().toArray(Integer[]::new);
        Integer[] pages = java.util.Arrays.stream(nodes).map(p.hugepagesByNode()::get).toArray(Integer[]::new);
        long hugepages = java.util.Arrays.stream(pages).mapToLong(Integer::longValue).sum();
        if (nodes.length > 0) {
            jdbc.sql("""
                    WITH held AS (INSERT INTO vm_hugepages (vm_id, host_id, node_id, hugepages_1g)
                                  SELECT ?, ?, u.node_id, u.pages FROM unnest(?::int[], ?::int[]) AS u(node_id, pages)
                                  RETURNING node_id, hugepages_1g)
                    UPDATE numa_node n SET hugepages_1g_used = n.hugepages_1g_used + held.hugepages_1g
                      FROM held WHERE n.host_id = ? AND n.node_id = held.node_id
                    """).params(vm, host, nodes, pages, host).update();
        }
        expect(jdbc.sql("""
                UPDATE host SET used_gpus = used_gpus + ?, used_cpus = used_cpus + ?,
                       used_memory_mib = used_memory_mib + ?, used_hugepages_1g = used_hugepages_1g + ?
                 WHERE id = ? AND state = 'ready'
                """).params(p.gpuDeviceIds().size(), p.cpuIds().size(), request.memoryMiB(), hugepages, host)
                .update(), 1, "host (no longer ready)");
        expect(jdbc.sql("""
                UPDATE vm SET host_id = ?, numa_nodes = ?, updated_at = now(),
                       expected_end_at = CASE WHEN CAST(? AS bigint) IS NULL THEN NULL
                                              ELSE now() + make_interval(secs => CAST(? AS bigint)) END
                 WHERE id = ? AND host_id IS NULL
                """).params(host, nodes, seconds(request), seconds(request), vm).update(),
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
        int cpus = jdbc.sql("""
                WITH released AS (UPDATE cpu SET vm_id = NULL WHERE vm_id = ? RETURNING node_id, cpu_id),
                     per_node AS (SELECT node_id, count(*) AS n, array_agg(cpu_id) AS ids FROM released GROUP BY node_id),
                     counters AS (UPDATE numa_node nn SET used_cpus = nn.used_cpus - p.n,
                                         held_cpus = ARRAY(SELECT unnest(nn.held_cpus) EXCEPT SELECT unnest(p.ids))
                                    FROM per_node p WHERE nn.host_id = ? AND nn.node_id = p.node_id RETURNING 1)
                SELECT coalesce(sum(n), 0) FROM per_node
                """).params(vm, host).query(Integer.class).single();
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
