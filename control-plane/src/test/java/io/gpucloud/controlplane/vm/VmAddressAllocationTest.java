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
        CountDownLatch allocated = new CountDownLatch(1);
        CountDownLatch mayEnd = new CountDownLatch(1);
        CompletableFuture<String> a = CompletableFuture.supplyAsync(() -> tx.execute(s -> {
            String ip = allocate(first, location);
            allocated.countDown();
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
        assertThat(allocated.await(30, TimeUnit.SECONDS)).isTrue();
        String b = CompletableFuture.supplyAsync(() -> tx.execute(s -> allocate(second, location)), threads)
                .get(10, TimeUnit.SECONDS);
        mayEnd.countDown();
        return new String[] {a.get(30, TimeUnit.SECONDS), b};
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
