package io.gpucloud.controlplane.placement;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.benchmark.SyntheticFleet;
import io.gpucloud.controlplane.tenancy.Projects;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.dao.DataAccessException;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The claim and release functions themselves (V14 rewrote them as fewer, set-based statements):
 * a GPU's IOMMU-group siblings go with it and come back, every counter moves with its rows, and a
 * claim that loses one CPU fails with GC001 leaving nothing of itself behind.
 */
class PlacementClaimSqlTest extends ControlPlaneTestBase {

    private static final String H100 = "H100-SXM5-80GB";

    @Autowired
    TransactionTemplate tx;
    @Autowired
    Projects projects;
    @Autowired
    PlacementAudit audit;

    private record Gpu(long partition, long device, int node, int group) {
    }

    private UUID newVm(UUID project, int gpus, int vcpus, long memoryMiB) {
        UUID vm = UUID.randomUUID();
        jdbc.sql("INSERT INTO vm (id, project_id, name, instance_type, gpu_model, gpu_count, vcpus, memory_mib) VALUES (?, ?, ?, 't', ?, ?, ?, ?)")
                .params(vm, project, "vm-" + vm, H100, gpus, vcpus, memoryMiB).update();
        return vm;
    }

    private void claim(UUID vm, UUID host, Gpu gpu, Integer[] cpus, int pages, long memoryMiB) {
        jdbc.sql("SELECT claim_placement(?, ?, ?, ?, ?, ?, ?, ?, NULL)")
                .params(vm, host, gpu.partition(), new Long[] {gpu.device()}, cpus, new Integer[] {gpu.node()},
                        new Integer[] {pages}, memoryMiB)
                .query((rs, n) -> 1).list();
    }

    private Map<String, Object> counters(UUID host, int node) {
        return jdbc.sql("""
                SELECT h.used_gpus, h.used_cpus, h.used_memory_mib, h.used_hugepages_1g, n.used_cpus AS node_cpus,
                       n.hugepages_1g_used AS node_pages, ARRAY(SELECT unnest(n.held_cpus) ORDER BY 1)::text AS held
                  FROM host h JOIN numa_node n ON n.host_id = h.id AND n.node_id = ?
                 WHERE h.id = ?
                """).params(node, host).query().singleRow();
    }

    private UUID holderOf(long device) {
        return jdbc.sql("SELECT vm_id FROM pci_device WHERE id = ?").param(device)
                .query((rs, n) -> rs.getObject(1, UUID.class)).list().get(0);
    }

    /** One synthetic H100 host of its own: the project to place for, two 1-GPU partitions and CPUs on node 0. */
    private record OneHost(UUID host, UUID project, List<Gpu> gpus, Integer[] node0) {
    }

    private OneHost oneHost(String name, int node0Cpus) {
        new SyntheticFleet(jdbc, tx).create(name, name + "-1", 1, List.of(H100));
        UUID host = jdbc.sql("SELECT id FROM host WHERE location = ?").param(name + "-1").query(UUID.class).single();
        Integer[] node0 = jdbc.sql("SELECT cpu_id FROM cpu WHERE host_id = ? AND node_id = 0 ORDER BY cpu_id LIMIT ?")
                .params(host, node0Cpus).query(Integer.class).list().toArray(Integer[]::new);
        return new OneHost(host, projects.ensureProject(name, name), twoSingleGpuPartitionsOnNode0(host), node0);
    }

    /** The host's first two 1-GPU partitions on NUMA node 0, with their GPU. */
    private List<Gpu> twoSingleGpuPartitionsOnNode0(UUID host) {
        return jdbc.sql("""
                SELECT p.id, d.id AS device, d.numa_node, d.iommu_group FROM gpu_partition p
                  JOIN gpu_partition_member m ON m.partition_row_id = p.id JOIN pci_device d ON d.id = m.device_id
                 WHERE p.host_id = ? AND p.gpu_count = 1 AND d.numa_node = 0 ORDER BY d.module_id LIMIT 2
                """).param(host).query((rs, n) -> new Gpu(rs.getLong(1), rs.getLong(2), rs.getInt(3), rs.getInt(4)))
                .list();
    }

    @Test
    void siblingsGoWithTheirGpuCountersFollowTheRowsAndALostClaimLeavesNothing() {
        OneHost fixture = oneHost("sqlclaim", 8);
        UUID host = fixture.host();
        UUID project = fixture.project();
        List<Gpu> gpus = fixture.gpus();
        Integer[] node0 = fixture.node0();
        Gpu first = gpus.get(0);
        Gpu second = gpus.get(1);
        // an audio function in the first GPU's IOMMU group
        long audio = jdbc.sql("""
                INSERT INTO pci_device (host_id, bdf, vendor_id, device_id, class_code, kind, numa_node, iommu_group)
                VALUES (?, '0000:fe:00.1', '10de', '22a3', '040300', 'other', 0, ?) RETURNING id
                """).params(host, first.group()).query(Long.class).single();
        Map<String, Object> empty = counters(host, 0);

        UUID a = newVm(project, 1, 4, 4096);
        claim(a, host, first, new Integer[] {node0[0], node0[1], node0[2], node0[3]}, 4, 4096);
        assertThat(holderOf(first.device())).isEqualTo(a);
        assertThat(holderOf(audio)).isEqualTo(a);
        Map<String, Object> held = counters(host, 0);
        assertThat(held.get("used_gpus")).isEqualTo(1);
        assertThat(held.get("used_cpus")).isEqualTo(4);
        assertThat(held.get("used_memory_mib")).isEqualTo(4096L);
        assertThat(held.get("used_hugepages_1g")).isEqualTo(4);
        assertThat(held.get("node_cpus")).isEqualTo(4);
        assertThat(held.get("node_pages")).isEqualTo(4);
        assertThat(held.get("held")).isEqualTo("{" + node0[0] + "," + node0[1] + "," + node0[2] + "," + node0[3] + "}");

        // B wants a CPU that A holds: GC001, and nothing of B's claim remains
        UUID b = newVm(project, 1, 4, 4096);
        assertThatThrownBy(() -> claim(b, host, second, new Integer[] {node0[3], node0[4], node0[5], node0[6]}, 4, 4096))
                .isInstanceOf(DataAccessException.class)
                .satisfies(e -> assertThat(((SQLException) ((DataAccessException) e).getMostSpecificCause()).getSQLState())
                        .isEqualTo("GC001"));
        assertThat(counters(host, 0)).isEqualTo(held);
        assertThat(holderOf(second.device())).isNull();
        assertThat(jdbc.sql("SELECT count(*) FROM gpu_partition WHERE id = ? AND vm_id IS NOT NULL")
                .param(second.partition()).query(Long.class).single()).isZero();
        assertThat(jdbc.sql("SELECT count(*) FROM vm_cpu WHERE vm_id = ?").param(b).query(Long.class).single()).isZero();
        assertThat(jdbc.sql("SELECT count(*) FROM vm_hugepages WHERE vm_id = ?").param(b).query(Long.class).single()).isZero();
        assertThat(jdbc.sql("SELECT count(*) FROM vm WHERE id = ? AND host_id IS NOT NULL").param(b)
                .query(Long.class).single()).isZero();
        assertThat(audit.violations()).isEmpty();

        // release gives everything back, the sibling too, and is safe to repeat
        assertThat(jdbc.sql("SELECT count(*) FROM release_placement_of(?)").param(a).query(Long.class).single()).isEqualTo(1);
        assertThat(jdbc.sql("SELECT count(*) FROM release_placement_of(?)").param(a).query(Long.class).single()).isZero();
        assertThat(holderOf(first.device())).isNull();
        assertThat(holderOf(audio)).isNull();
        assertThat(counters(host, 0)).isEqualTo(empty);
        assertThat(audit.violations()).isEmpty();

        // a CPU id the host does not have is a lost claim too, not a silently smaller VM
        UUID c = newVm(project, 1, 2, 2048);
        assertThatThrownBy(() -> claim(c, host, second, new Integer[] {node0[0], 100_000}, 2, 2048))
                .isInstanceOf(DataAccessException.class)
                .satisfies(e -> assertThat(((SQLException) ((DataAccessException) e).getMostSpecificCause()).getSQLState())
                        .isEqualTo("GC001"));
        assertThat(counters(host, 0)).isEqualTo(empty);

        // whatever code writes, the database refuses a CPU held twice on a node
        assertThatThrownBy(() -> jdbc.sql("UPDATE numa_node SET held_cpus = ARRAY[?, ?]::int[], used_cpus = 2 "
                + "WHERE host_id = ? AND node_id = 0").params(node0[0], node0[0], host).update())
                .isInstanceOf(DataAccessException.class)
                .hasMessageContaining("numa_held_cpus_distinct");
    }

    @Test
    void aPlacedVmCannotTakeASecondPartitionAndTheAuditSeesOneWrittenByHand() {
        OneHost fixture = oneHost("sqlclaim2", 4);
        UUID host = fixture.host();
        UUID project = fixture.project();
        List<Gpu> gpus = fixture.gpus();
        Integer[] node0 = fixture.node0();
        UUID a = newVm(project, 1, 2, 2048);
        claim(a, host, gpus.get(0), new Integer[] {node0[0], node0[1]}, 2, 2048);
        Map<String, Object> held = counters(host, 0);

        // the partition's vm_id is not unique-indexed (V17): a second claim for a placed VM is refused whole
        assertThatThrownBy(() -> claim(a, host, gpus.get(1), new Integer[] {node0[2], node0[3]}, 2, 2048))
                .isInstanceOf(DataAccessException.class);
        assertThat(counters(host, 0)).isEqualTo(held);
        assertThat(jdbc.sql("SELECT count(*) FROM gpu_partition WHERE vm_id = ?").param(a).query(Long.class).single())
                .isEqualTo(1);
        assertThat(audit.violations()).isEmpty();

        // a second partition written by hand is reported
        jdbc.sql("UPDATE gpu_partition SET vm_id = ? WHERE id = ?").params(a, gpus.get(1).partition()).update();
        assertThat(audit.violations()).anyMatch(v -> v.startsWith("VMs holding more than one partition: 1"));
        jdbc.sql("UPDATE gpu_partition SET vm_id = NULL WHERE id = ?").param(gpus.get(1).partition()).update();

        // release finds the VM's partition and devices through its host
        assertThat(jdbc.sql("SELECT count(*) FROM release_placement_of(?)").param(a).query(Long.class).single()).isEqualTo(1);
        assertThat(jdbc.sql("SELECT count(*) FROM gpu_partition WHERE vm_id = ?").param(a).query(Long.class).single()).isZero();
        assertThat(holderOf(gpus.get(0).device())).isNull();
        assertThat(audit.violations()).isEmpty();
    }

    private static String refusal(Runnable write) {
        try {
            write.run();
        } catch (DataAccessException e) {
            SQLException sql = (SQLException) e.getMostSpecificCause();
            assertThat(sql.getSQLState()).isEqualTo("23514");
            return ((org.postgresql.util.PSQLException) sql).getServerErrorMessage().getConstraint();
        }
        throw new AssertionError("the write was accepted");
    }

    @Test
    void claimsAndReleasesRewriteTheVmRowInPlaceAndAHostStillFindsItsVms() {
        OneHost fixture = oneHost("sqlhot", 2);
        UUID host = fixture.host();
        UUID vm = newVm(fixture.project(), 1, 2, 3072);

        // One transaction: PostgreSQL's backend-local counters then move by exactly its updates (they may
        // also hold earlier transactions' counts not yet reported, hence before and after).
        long[] updated = tx.execute(s -> {
            long[] before = vmUpdates();
            claim(vm, host, fixture.gpus().get(0), fixture.node0(), 3, 3072);
            assertThat(placedOn(host)).containsExactly(vm);
            assertThat(jdbc.sql("SELECT count(*) FROM release_placement_of(?)").param(vm).query(Long.class).single())
                    .isEqualTo(1);
            long[] after = vmUpdates();
            return new long[] {after[0] - before[0], after[1] - before[1]};
        });
        // V23: no index covers what a claim or release changes in the VM's row, so neither writes index entries
        assertThat(updated).as("vm rows updated, and of those HOT (in place)").containsExactly(2, 2);
        assertThat(placedOn(host)).isEmpty();
        assertThat(audit.violations()).isEmpty();
    }

    private long[] vmUpdates() {
        return jdbc.sql("""
                SELECT pg_stat_get_xact_tuples_updated('vm'::regclass), pg_stat_get_xact_tuples_hot_updated('vm'::regclass)
                """).query((rs, n) -> new long[] {rs.getLong(1), rs.getLong(2)}).single();
    }

    /** The VMs placed on a host, as the reconcile, maintenance and mode-switch checks find them (V23). */
    private List<UUID> placedOn(UUID host) {
        return jdbc.sql("SELECT vm_id FROM vms_placed_on(?)").param(host).query(UUID.class).list();
    }

    @Test
    void identityRulesHoldWhereverTheirColumnsAreWrittenAndClaimsDoNotPayForThem() {
        OneHost fixture = oneHost("sqlrules", 2);
        UUID host = fixture.host();
        Gpu gpu = fixture.gpus().get(0);

        // V22 checks these by trigger instead of CHECK, with the same SQLSTATE and constraint names
        assertThat(refusal(() -> jdbc.sql("UPDATE pci_device SET bdf = '0000:1B:00.0' WHERE id = ?")
                .param(gpu.device()).update())).isEqualTo("pci_device_bdf_check");
        assertThat(refusal(() -> jdbc.sql("UPDATE pci_device SET module_id = 0 WHERE id = ?")
                .param(gpu.device()).update())).isEqualTo("pci_device_module_id_check");
        assertThat(refusal(() -> jdbc.sql("""
                INSERT INTO pci_device (host_id, bdf, vendor_id, device_id, class_code, kind, numa_node, iommu_group)
                VALUES (?, '0000:fe:00', '10de', '22a3', '040300', 'other', 0, 900)
                """).param(host).update())).isEqualTo("pci_device_bdf_check");
        assertThat(refusal(() -> jdbc.sql("UPDATE gpu_partition SET gpu_count = 2 WHERE id = ?")
                .param(gpu.partition()).update())).isEqualTo("partition_size_matches");
        assertThat(refusal(() -> jdbc.sql("UPDATE gpu_partition SET partition_id = -1 WHERE id = ?")
                .param(gpu.partition()).update())).isEqualTo("gpu_partition_partition_id_check");
        assertThat(refusal(() -> jdbc.sql("UPDATE gpu_partition SET module_ids = '{}', gpu_count = 0 WHERE id = ?")
                .param(gpu.partition()).update())).isEqualTo("gpu_partition_gpu_count_check");
        assertThat(refusal(() -> jdbc.sql("UPDATE numa_node SET node_id = -1 WHERE host_id = ? AND node_id = 1")
                .param(host).update())).isEqualTo("numa_node_node_id_check");

        // the counters a claim changes are still table CHECKs
        assertThat(refusal(() -> jdbc.sql("UPDATE host SET used_gpus = total_gpus + 1 WHERE id = ?")
                .param(host).update())).isEqualTo("host_gpus_within_total");

        // a claim and a release, which set none of those columns, go through
        UUID vm = newVm(fixture.project(), 1, 2, 2048);
        claim(vm, host, gpu, fixture.node0(), 2, 2048);
        assertThat(holderOf(gpu.device())).isEqualTo(vm);
        assertThat(jdbc.sql("SELECT count(*) FROM release_placement_of(?)").param(vm).query(Long.class).single()).isEqualTo(1);
        assertThat(audit.violations()).isEmpty();
    }
}
