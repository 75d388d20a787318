package io.gpucloud.controlplane.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.tenancy.Projects;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * {@code allocate_vm_address} (V16, V21): the lowest free address of the location, and concurrent
 * allocations in one location that neither wait for each other nor collide, nor lose an address.
 */
class VmAddressAllocationTest extends ControlPlaneTestBase {

    @Autowired
    TransactionTemplate tx;
    @Autowired
    Projects projects;

    // a thread per task: a transaction held open below must not keep the others from starting.
    // CompletableFuture's default executor depends on the JVM and the cores (Java 25 on 2 cores: one thread)
    private final java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors.newCachedThreadPool();

    @org.junit.jupiter.api.AfterEach
    void stopThreads() {
        threads.shutdownNow();
    }

    private UUID newVm(UUID project) {
        UUID vm = UUID.randomUUID();
        jdbc.sql("INSERT INTO vm (id, project_id, name, instance_type, gpu_model, gpu_count, vcpus, memory_mib) "
                        + "VALUES (?, ?, ?, 't', 'H100-SXM5-80GB', 1, 4, 4096)")
                .params(vm, project, "addr-" + vm).update();
        return vm;
    }

    private String allocate(UUID vm, String location) {
        return jdbc.sql("SELECT host(allocate_vm_address(?, ?))").params(vm, location).query(String.class).single();
    }

    /**
     * Allocates for {@code first} in a transaction held open, then for {@code second} in another that
     * must finish within 10 s; then ends the first (committed, or rolled back). Returns both addresses.
     */
    private String[] allocateWhileAnotherHoldsItsAddress(UUID first, UUID second, String location, boolean rollBack)
            throws Exception {
        CountDownLatch mayEnd = new CountDownLatch(1);
        CompletableFuture<String> allocated = new CompletableFuture<>();
        CompletableFuture<String> a = holdOpen(first, location, mayEnd, rollBack, allocated);
        allocated.get(30, TimeUnit.SECONDS);
        String b = CompletableFuture.supplyAsync(() -> tx.execute(s -> allocate(second, location)), threads)
                .get(10, TimeUnit.SECONDS);
        mayEnd.countDown();
        return new String[] {a.get(30, TimeUnit.SECONDS), b};
    }

    /**
     * Allocates for {@code vm} in a transaction that stays open until {@code mayEnd} (then commits, or rolls
     * back); {@code allocated} completes with the address as soon as it is allocated.
     */
    private CompletableFuture<String> holdOpen(UUID vm, String location, CountDownLatch mayEnd, boolean rollBack,
                                               CompletableFuture<String> allocated) {
        return CompletableFuture.supplyAsync(() -> tx.execute(s -> {
            String ip = allocate(vm, location);
            allocated.complete(ip);
            try {
                mayEnd.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (rollBack) {
                s.setRollbackOnly();
            }
            return ip;
        }), threads);
    }

    @Test
    void theLowestFreeAddressInOrderAndAgainAfterARelease() {
        UUID project = projects.ensureProject("addr-corp", "seq");
        List<UUID> vms = new ArrayList<>();
        List<String> got = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            vms.add(newVm(project));
            got.add(allocate(vms.get(i), "addr-seq"));
        }
        String subnet = got.get(0).substring(0, got.get(0).lastIndexOf('.') - 1);
        assertThat(got).containsExactly(subnet + "0.10", subnet + "0.11", subnet + "0.12", subnet + "0.13");
        assertThat(allocate(vms.get(2), "addr-seq")).as("a VM keeps its address").isEqualTo(subnet + "0.12");

        jdbc.sql("DELETE FROM vm_address WHERE vm_id = ?").param(vms.get(1)).update();
        UUID next = newVm(project);
        assertThat(allocate(next, "addr-seq")).as("the gap is reused first").isEqualTo(subnet + "0.11");
        assertThat(allocate(newVm(project), "addr-seq")).isEqualTo(subnet + "0.14");
    }

    @Test
    void aConcurrentAllocationTakesTheNextAddressWithoutWaitingForTheFirstToCommit() throws Exception {
        UUID project = projects.ensureProject("addr-corp", "conc");
        UUID first = newVm(project);
        UUID second = newVm(project);
        allocate(newVm(project), "addr-conc"); // .10, and the location's subnet

        // the first transaction holds .11 uncommitted; the second must not wait for it
        String[] ab = allocateWhileAnotherHoldsItsAddress(first, second, "addr-conc", false);
        String ipA = ab[0];
        String b = ab[1];
        String subnet = ipA.substring(0, ipA.lastIndexOf('.') - 1);
        assertThat(ipA).isEqualTo(subnet + "0.11");
        assertThat(b).isEqualTo(subnet + "0.12");

        // many at once: all distinct, all committed
        List<CompletableFuture<String>> many = new ArrayList<>();
        List<UUID> manyVms = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            manyVms.add(newVm(project));
        }
        for (UUID vm : manyVms) {
            many.add(CompletableFuture.supplyAsync(() -> tx.execute(s -> allocate(vm, "addr-conc")), threads));
        }
        List<String> ips = new ArrayList<>();
        for (var f : many) {
            ips.add(f.get(30, TimeUnit.SECONDS));
        }
        assertThat(ips).doesNotHaveDuplicates().hasSize(16);
        assertThat(jdbc.sql("SELECT count(*) FROM vm_address WHERE location = 'addr-conc'").query(Long.class).single())
                .isEqualTo(19);
    }

    private long listedFree(String location) {
        return jdbc.sql("SELECT count(*) FROM vm_address_free WHERE location = ?").param(location)
                .query(Long.class).single();
    }

    @Test
    void anAddressSkippedForAnAllocationThatRollsBackIsOfferedAgain() throws Exception {
        UUID project = projects.ensureProject("addr-corp", "rollback");
        allocate(newVm(project), "addr-rb"); // .10, and the location's subnet
        UUID first = newVm(project);
        UUID second = newVm(project);
        // the placing transaction of the first fails after the second took the next address
        String[] ab = allocateWhileAnotherHoldsItsAddress(first, second, "addr-rb", true);
        String ipA = ab[0];
        String b = ab[1];
        String subnet = ipA.substring(0, ipA.lastIndexOf('.') - 1);
        assertThat(ipA).isEqualTo(subnet + "0.11");
        assertThat(b).as("the second went past the address the first was taking").isEqualTo(subnet + "0.12");

        assertThat(allocate(newVm(project), "addr-rb")).as("the rolled-back address, below the highest taken")
                .isEqualTo(subnet + "0.11");
        assertThat(allocate(newVm(project), "addr-rb")).isEqualTo(subnet + "0.13");
        assertThat(listedFree("addr-rb")).as("no taken address stays listed as free").isZero();
    }

    @Test
    void allocationsThatSkipTheSameAddressDoNotWaitForEachOther() throws Exception {
        UUID project = projects.ensureProject("addr-corp", "skip");
        String subnet = allocate(newVm(project), "addr-skip").replaceAll("0\\.10$", ""); // .10
        CountDownLatch mayEnd = new CountDownLatch(1);
        // the first holds .11; the second skips .11 (listing it) and holds .12, both uncommitted
        CompletableFuture<String> first = new CompletableFuture<>();
        CompletableFuture<String> second = new CompletableFuture<>();
        CompletableFuture<String> a = holdOpen(newVm(project), "addr-skip", mayEnd, false, first);
        assertThat(first.get(30, TimeUnit.SECONDS)).isEqualTo(subnet + "0.11");
        CompletableFuture<String> b = holdOpen(newVm(project), "addr-skip", mayEnd, false, second);
        assertThat(second.get(30, TimeUnit.SECONDS)).isEqualTo(subnet + "0.12");
        // the third skips .11 too: it must not wait for the second's listing of it to commit (V21 did)
        UUID third = newVm(project);
        String c = CompletableFuture.supplyAsync(() -> tx.execute(s -> allocate(third, "addr-skip")), threads)
                .get(10, TimeUnit.SECONDS);
        assertThat(c).isEqualTo(subnet + "0.13");
        mayEnd.countDown();
        a.get(30, TimeUnit.SECONDS);
        b.get(30, TimeUnit.SECONDS);
        // the listed entries of taken addresses are stale and go when met; the next one is .14
        assertThat(allocate(newVm(project), "addr-skip")).isEqualTo(subnet + "0.14");
        assertThat(listedFree("addr-skip")).as("no taken address stays listed as free").isZero();
    }

    @Test
    void anAddressLostToTheListIsFoundBeforeTheLocationCountsAsFull() throws Exception {
        UUID project = projects.ensureProject("addr-corp", "full");
        String subnet = allocate(newVm(project), "addr-full").replaceAll("0\\.10$", ""); // .10
        // every other address of the /16 taken, but .0.77: free, not listed (its taker and its lister both
        // rolled back), which the list alone would never offer again
        jdbc.sql("""
                WITH vms AS (
                    INSERT INTO vm (id, project_id, name, instance_type, gpu_model, gpu_count, vcpus, memory_mib)
                    SELECT gen_random_uuid(), ?, 'addr-full-' || o, 't', 'H100-SXM5-80GB', 1, 4, 4096
                      FROM generate_series(11, 65534) o WHERE o <> 77
                    RETURNING id, substring(name from 11)::int AS o)
                INSERT INTO vm_address (vm_id, location, address)
                SELECT id, 'addr-full', CAST(? AS inet) + o FROM vms
                """).params(project, subnet + "0.0").update();
        try {
            assertThat(listedFree("addr-full")).isZero();
            assertThat(allocate(newVm(project), "addr-full")).isEqualTo(subnet + "0.77");
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> allocate(newVm(project), "addr-full"))
                    .hasMessageContaining("no free private address in location addr-full");
        } finally {
            // 65,000 VMs would weigh on every later test of this context
            jdbc.sql("DELETE FROM vm WHERE project_id = ?").param(project).update();
            jdbc.sql("DELETE FROM vm_address_free WHERE location = 'addr-full'").update();
        }
    }

    @Test
    void theHighestAddressFreedIsTakenAgainAndAMovedVmFreesItsOldOne() {
        UUID project = projects.ensureProject("addr-corp", "top");
        List<UUID> vms = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            vms.add(newVm(project));
            allocate(vms.get(i), "addr-top");
        }
        String top = jdbc.sql("SELECT host(address) FROM vm_address WHERE vm_id = ?").param(vms.get(2))
                .query(String.class).single();
        String subnet = top.substring(0, top.lastIndexOf('.') - 1);
        jdbc.sql("DELETE FROM vm_address WHERE vm_id = ?").param(vms.get(2)).update();
        assertThat(allocate(newVm(project), "addr-top")).isEqualTo(subnet + "0.12");

        // placed again in another location: its address here goes back to this location's pool
        allocate(vms.get(0), "addr-top-2");
        assertThat(listedFree("addr-top")).isEqualTo(1);
        assertThat(allocate(newVm(project), "addr-top")).isEqualTo(subnet + "0.10");
        assertThat(listedFree("addr-top")).isZero();
    }
}
