package io.gpucloud.controlplane.placement;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.benchmark.SyntheticFleet;
import io.gpucloud.controlplane.database.PgNotifications;
import io.gpucloud.controlplane.tenancy.Projects;
import io.gpucloud.placement.NumaPolicy;
import io.gpucloud.placement.Placement;
import io.gpucloud.placement.PlacementPolicy;
import io.gpucloud.placement.PlacementRequest;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The fleet cache only proposes; the database decides. Each case makes the cache wrong on purpose
 * (a second instance's cache that never hears of the first one's claims, changes made in SQL with
 * triggers suppressed so no notification goes out) and checks that placement still never hands
 * anything out twice, never places on a host that stopped taking VMs, and does not refuse a VM
 * because of capacity it wrongly believes taken.
 */
class FleetCacheTest extends ControlPlaneTestBase {

    private static final String H100 = "H100-SXM5-80GB";

    @Autowired
    PlacementService placement;
    @Autowired
    PlacementAudit audit;
    @Autowired
    Projects projects;
    @Autowired
    TransactionTemplate tx;
    @Autowired
    PlacementClaims claims;
    @Autowired
    PlacementPolicy policy;
    @Autowired
    PgNotifications notifications;
    @Autowired
    DataSource dataSource;
    @Autowired
    FleetCache cacheOfA;
    @Autowired
    io.micrometer.core.instrument.MeterRegistry meters;

    private FleetCache cacheOfB;

    /** A second control-plane instance on the same database: its own cache, never refreshed in the background. */
    private PlacementService secondInstance() {
        PlacementProperties props = new PlacementProperties(null, null, null, 3_600_000L, null);
        FleetCache cache = new FleetCache(jdbc, new SnapshotLoader(jdbc, tx), notifications, props,
                new SimpleMeterRegistry());
        cacheOfB = cache;
        return new PlacementService(new SnapshotLoader(jdbc, tx), cache, claims, policy, props, new SimpleMeterRegistry(),
                tx, dataSource);
    }

    private UUID newVm(UUID project, int gpus) {
        UUID vm = UUID.randomUUID();
        jdbc.sql("INSERT INTO vm (id, project_id, name, instance_type, gpu_model, gpu_count, vcpus, memory_mib) "
                        + "VALUES (?, ?, ?, 't', ?, ?, ?, ?)")
                .params(vm, project, "vm-" + vm, H100, gpus, gpus * 12, gpus * 96L * 1024).update();
        return vm;
    }

    private static PlacementRequest request(UUID vm, int gpus, String location) {
        return new PlacementRequest(vm, H100, gpus, gpus * 12, gpus * 96L * 1024, location, Set.of(),
                NumaPolicy.REQUIRED, false, null);
    }

    /** A request that declares how long it runs: only such requests are counted for the reservation. */
    private static PlacementRequest hinted(UUID vm, int gpus, String location) {
        return new PlacementRequest(vm, H100, gpus, gpus * 12, gpus * 96L * 1024, location, Set.of(),
                NumaPolicy.REQUIRED, false, java.time.Duration.ofHours(4));
    }

    private double hostReads(String reason) {
        var counter = meters.find("gpucloud.placement.cache.host.reads").tag("reason", reason).counter();
        return counter == null ? 0 : counter.count();
    }

    private Set<Long> gpusOf(UUID vm) {
        return new HashSet<>(jdbc.sql("SELECT id FROM pci_device WHERE vm_id = ? AND kind = 'gpu'").param(vm)
                .query(Long.class).list());
    }

    /**
     * What a cache applied from its own claims and releases must equal what the database holds:
     * same version, counters and snapshot (held GPUs, allocated partitions, free CPUs in topology
     * order, free hugepages per node).
     */
    private void assertCacheMatchesDatabase(FleetCache cache, UUID host) {
        FleetCache.Entry cached = cache.slot(host).entry;
        assertThat(cached.snapshot()).as("the cache kept its snapshot current").isNotNull();
        SnapshotLoader.Loaded fresh = new SnapshotLoader(jdbc, tx).load(List.of(host), false);
        assertThat(cached.row()).isEqualTo(fresh.rows().get(host));
        assertThat(cached.snapshot()).isEqualTo(fresh.hosts().get(0));
    }

    @Test
    void countsTheEmptyHostsThePolicyReservesFrom() {
        new SyntheticFleet(jdbc, tx).create("empties", "empties-1", 3, List.of(H100));
        UUID project = projects.ensureProject("empties", "empties");
        cacheOfA.refreshAll(cacheOfA.generation());
        assertThat(cacheOfA.emptyHosts(hinted(UUID.randomUUID(), 1, "empties-1"))).isEqualTo(3);
        UUID vm = newVm(project, 1);
        assertThat(placement.place(request(vm, 1, "empties-1")).placement()).isPresent();
        assertThat(cacheOfA.emptyHosts(hinted(UUID.randomUUID(), 8, "empties-1"))).isEqualTo(2);
        assertThat(cacheOfA.emptyHosts(hinted(UUID.randomUUID(), 0, "empties-1")))
                .as("CPU-only requests reserve nothing").isEqualTo(io.gpucloud.placement.ScoringContext.UNKNOWN);
        assertThat(cacheOfA.emptyHosts(hinted(UUID.randomUUID(), 1, "nowhere"))).isZero();
        assertThat(cacheOfA.emptyHosts(request(UUID.randomUUID(), 1, "empties-1")))
                .as("no lifetime hint: nothing to reserve against, no scan").isEqualTo(io.gpucloud.placement.ScoringContext.UNKNOWN);
        placement.release(vm);
        assertThat(cacheOfA.emptyHosts(hinted(UUID.randomUUID(), 1, "empties-1"))).isEqualTo(3);
    }

    @Test
    void aSecondInstanceWithAStaleCacheNeverDoubleAllocatesAndStillFindsFreedCapacity() {
        new SyntheticFleet(jdbc, tx).create("cache", "cache-1", 1, List.of(H100));
        UUID project = projects.ensureProject("cache", "cache");
        PlacementService a = placement;
        PlacementService b = secondInstance();
        // both caches hold the empty host
        UUID probeA = newVm(project, 1);
        assertThat(a.place(request(probeA, 1, "cache-1")).placement()).isPresent();
        a.release(probeA);
        UUID probeB = newVm(project, 1);
        assertThat(b.place(request(probeB, 1, "cache-1")).placement()).isPresent();
        b.release(probeB);

        // A takes half the board; B's cache still believes the board is empty and would choose the
        // same partition (same policy, same snapshot) — the claim must notice and re-decide
        UUID first = newVm(project, 4);
        Placement pa = a.place(request(first, 4, "cache-1")).placement().orElseThrow();
        UUID host = pa.hostId();
        UUID second = newVm(project, 4);
        var outB = b.place(request(second, 4, "cache-1"));
        assertThat(outB.placement()).as("the other half is free").isPresent();
        Placement pb = outB.placement().get();
        assertThat(gpusOf(first)).containsExactlyInAnyOrderElementsOf(pa.gpuDeviceIds());
        assertThat(gpusOf(second)).containsExactlyInAnyOrderElementsOf(pb.gpuDeviceIds());
        assertThat(gpusOf(first)).doesNotContainAnyElementsOf(gpusOf(second));
        assertThat(pa.cpuIds()).doesNotContainAnyElementsOf(pb.cpuIds());
        assertThat(audit.violations()).isEmpty();
        assertCacheMatchesDatabase(cacheOfB, host); // re-read after the refused claim, then its own claim applied

        // The board is full; whichever cache is behind, nothing more fits and nothing is claimed.
        UUID third = newVm(project, 1);
        var refused = a.place(request(third, 1, "cache-1"));
        assertThat(refused.placement()).isEmpty();
        assertThat(refused.explanation()).isNotEmpty();
        assertThat(gpusOf(third)).isEmpty();

        // B releases A's VM without A hearing of it: A's cache thinks the host is full, yet A must
        // find the freed half (it re-reads before saying no).
        b.release(first);
        UUID fourth = newVm(project, 4);
        var again = a.place(request(fourth, 4, "cache-1"));
        assertThat(again.placement()).as("freed by the other instance").isPresent();
        assertThat(gpusOf(fourth)).doesNotContainAnyElementsOf(gpusOf(second));
        assertThat(audit.violations()).isEmpty();
        // A still remembers claiming `first`, which B released: the prune forgets it, keeps the live one
        assertThat(cacheOfA.remembersClaim(first)).isTrue();
        assertThat(cacheOfA.pruneOwnClaims()).isPositive();
        assertThat(cacheOfA.remembersClaim(first)).isFalse();
        assertThat(cacheOfA.remembersClaim(fourth)).isTrue();
        cacheOfB.load(List.of(host), "claim"); // B catches up (as its poll would), then releases its own VM
        b.release(second);
        assertCacheMatchesDatabase(cacheOfB, host); // its own release applied
        a.release(fourth);
        assertThat(jdbc.sql("SELECT used_gpus + used_cpus + used_hugepages_1g FROM host WHERE location = 'cache-1'")
                .query(Integer.class).single()).isZero();
        assertThat(audit.violations()).isEmpty();
    }

    @Test
    void changesMadeBehindTheCachesBackAreCaughtByTheClaim() {
        new SyntheticFleet(jdbc, tx).create("behind", "behind-1", 1, List.of(H100));
        UUID host = jdbc.sql("SELECT id FROM host WHERE location = 'behind-1'").query(UUID.class).single();
        UUID project = projects.ensureProject("behind", "behind");
        PlacementService b = secondInstance();
        UUID warm = newVm(project, 1);
        assertThat(b.place(request(warm, 1, "behind-1")).placement()).isPresent();
        b.release(warm);

        // Another writer holds every CPU of NUMA node 0 (and the triggers that would announce
        // anything are off): a decision from the cache would pin node-0 CPUs that are taken.
        UUID squatter = UUID.randomUUID();
        jdbc.sql("INSERT INTO vm (id, project_id, name, instance_type, gpu_count, vcpus, memory_mib) "
                + "VALUES (?, ?, ?, 't', 0, 112, 1024)").params(squatter, project, "squatter").update();
        tx.executeWithoutResult(s -> {
            jdbc.sql("SET LOCAL session_replication_role = replica").update();
            List<Integer> node0 = jdbc.sql("SELECT cpu_id FROM cpu WHERE host_id = ? AND node_id = 0 ORDER BY cpu_id")
                    .param(host).query(Integer.class).list();
            jdbc.sql("SELECT claim_placement(?, ?, NULL, '{}'::bigint[], ?, '{0}'::int[], '{1}'::int[], 1024, NULL)")
                    .params(squatter, host, node0.toArray(Integer[]::new)).query((rs, n) -> 1).single();
        });
        UUID vm = newVm(project, 2);
        Placement p = b.place(request(vm, 2, "behind-1")).placement().orElseThrow();
        List<Integer> gpuNodes = jdbc.sql("SELECT DISTINCT numa_node FROM pci_device WHERE vm_id = ? AND kind = 'gpu'")
                .param(vm).query(Integer.class).list();
        List<Integer> cpuNodes = jdbc.sql("SELECT DISTINCT c.node_id FROM vm_cpu h JOIN cpu c ON c.host_id = h.host_id AND c.cpu_id = h.cpu_id WHERE h.vm_id = ?").param(vm)
                .query(Integer.class).list();
        assertThat(cpuNodes).as("NUMA-local to its GPUs, on the node that still has CPUs").isEqualTo(List.of(1))
                .isEqualTo(gpuNodes);
        assertThat(p.cpuIds()).hasSize(24);
        assertThat(audit.violations()).isEmpty();
        b.release(vm);
        b.release(squatter);

        // The host leaves passthrough mode, unannounced: the cache still believes it takes VMs, the
        // claim must refuse it and nothing may be held.
        tx.executeWithoutResult(s -> {
            jdbc.sql("SET LOCAL session_replication_role = replica").update();
            jdbc.sql("UPDATE host SET virtualization_mode = 'mig' WHERE id = ?").param(host).update();
        });
        UUID late = newVm(project, 1);
        var refused = b.place(request(late, 1, "behind-1"));
        assertThat(refused.placement()).isEmpty();
        assertThat(gpusOf(late)).isEmpty();
        assertThat(jdbc.sql("SELECT used_gpus FROM host WHERE id = ?").param(host).query(Integer.class).single())
                .isZero();

        // Back in passthrough mode (announced this time): placement works again.
        jdbc.sql("UPDATE host SET virtualization_mode = 'passthrough' WHERE id = ?").param(host).update();
        UUID back = newVm(project, 1);
        assertThat(b.place(request(back, 1, "behind-1")).placement()).isPresent();
        b.release(back);
        assertThat(audit.violations()).isEmpty();
    }
    @Test
    void thePollReReadsAHostAllocatedElsewhereButLeavesItAloneWhileAChangeOfOursIsInFlight() {
        new SyntheticFleet(jdbc, tx).create("poll", "poll-1", 1, List.of(H100));
        UUID host = jdbc.sql("SELECT id FROM host WHERE location = 'poll-1'").query(UUID.class).single();
        UUID project = projects.ensureProject("poll", "poll");
        UUID warm = newVm(project, 1);
        assertThat(placement.place(request(warm, 1, "poll-1")).placement()).isPresent();
        placement.release(warm);
        long before = cacheOfA.slot(host).entry.row().allocVersion();

        UUID elsewhere = newVm(project, 2);
        assertThat(secondInstance().place(request(elsewhere, 2, "poll-1")).placement()).isPresent();

        // A change of ours on the host is in flight: the newer version is most likely ours, about to be
        // applied. Neither the version poll nor the full refresh drops the snapshot.
        cacheOfA.ownChangeStarted(host);
        try {
            cacheOfA.pollVersions();
            cacheOfA.refreshAll(cacheOfA.generation());
            assertThat(cacheOfA.slot(host).entry.row().allocVersion()).isEqualTo(before);
            assertThat(cacheOfA.slot(host).entry.snapshot()).as("kept, not dropped").isNotNull();
        } finally {
            cacheOfA.ownChangeEnded(host);
        }
        // Nothing of ours in flight: the change was someone else's, and the poll reads the host whole
        double readsBefore = hostReads("elsewhere");
        cacheOfA.pollVersions();
        assertThat(cacheOfA.slot(host).entry.row().allocVersion()).isGreaterThan(before);
        assertCacheMatchesDatabase(cacheOfA, host);
        assertThat(hostReads("elsewhere")).as("counted for operators").isGreaterThan(readsBefore);

        // The same through the full refresh
        long second = cacheOfA.slot(host).entry.row().allocVersion();
        UUID more = newVm(project, 2);
        assertThat(secondInstance().place(request(more, 2, "poll-1")).placement()).isPresent();
        cacheOfA.refreshAll(cacheOfA.generation());
        assertThat(cacheOfA.slot(host).entry.row().allocVersion()).isGreaterThan(second);
        assertCacheMatchesDatabase(cacheOfA, host);
        placement.release(elsewhere);
        placement.release(more);
        assertThat(audit.violations()).isEmpty();
    }

    @Test
    void aClaimThatMeetsOurOwnReleaseWaitsForItInsteadOfReadingTheHost() throws Exception {
        new SyntheticFleet(jdbc, tx).create("await", "await-1", 1, List.of(H100));
        UUID host = jdbc.sql("SELECT id FROM host WHERE location = 'await-1'").query(UUID.class).single();
        UUID project = projects.ensureProject("await", "await");
        UUID vm = newVm(project, 2);
        assertThat(placement.place(request(vm, 2, "await-1")).placement()).isPresent();
        long placedAt = cacheOfA.slot(host).entry.row().allocVersion();

        assertThat(cacheOfA.awaitOwnChange(host, placedAt, java.util.concurrent.TimeUnit.SECONDS.toNanos(5)))
                .as("nothing of ours in flight: no wait, the caller re-reads").isFalse();

        cacheOfA.ownChangeStarted(host); // as a release does before its statement
        Thread releaser = new Thread(() -> {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                return;
            }
            placement.release(vm);
        });
        long t0 = System.nanoTime();
        releaser.start();
        try {
            assertThat(cacheOfA.awaitOwnChange(host, placedAt, java.util.concurrent.TimeUnit.SECONDS.toNanos(5)))
                    .as("the release's delta arrived while waiting").isTrue();
            assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(50));
        } finally {
            cacheOfA.ownChangeEnded(host);
            releaser.join();
        }
        assertThat(cacheOfA.slot(host).entry.row().allocVersion()).isGreaterThan(placedAt);
        assertCacheMatchesDatabase(cacheOfA, host);
    }
}
