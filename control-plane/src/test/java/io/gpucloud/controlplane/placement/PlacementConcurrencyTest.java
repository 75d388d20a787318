package io.gpucloud.controlplane.placement;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneApplication;
import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.benchmark.SyntheticFleet;
import io.gpucloud.controlplane.tenancy.Projects;
import io.gpucloud.placement.NumaPolicy;
import io.gpucloud.placement.PlacementRequest;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Hundreds of simultaneous placements and releases from many threads, through two control-plane
 * instances sharing one database, on a fleet too small for all of them. Afterwards SQL must show
 * nothing held twice and every counter equal to the rows it caches.
 */
class PlacementConcurrencyTest extends ControlPlaneTestBase {

    private static final String MODEL = "H100-SXM5-80GB";

    @Autowired
    PlacementService placement;
    @Autowired
    Projects projects;
    @Autowired
    TransactionTemplate tx;
    @Autowired
    EmbeddedPostgres postgres;
    @Autowired
    PlacementAudit audit;

    @Test
    void concurrentPlacementsFromTwoInstancesNeverDoubleAllocate() throws Exception {
        new SyntheticFleet(jdbc, tx).create("conc", "conc-1", 16, List.of(MODEL));
        UUID project = projects.ensureProject("conc-tenant", "conc");

        try (ConfigurableApplicationContext second = new SpringApplicationBuilder(ControlPlaneApplication.class)
                .profiles("test")
                .properties("spring.datasource.url=" + postgres.getJdbcUrl("postgres", "postgres"),
                        "spring.datasource.username=postgres", "server.port=0",
                        "spring.datasource.hikari.maximum-pool-size=10")
                .run()) {
            PlacementService other = second.getBean(PlacementService.class);
            List<PlacementService> instances = List.of(placement, other);

            int requests = 400;
            int threads = 24;
            int[] sizes = {1, 1, 1, 1, 2, 2, 2, 4, 4, 8};
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CountDownLatch start = new CountDownLatch(1);
            AtomicInteger placedCount = new AtomicInteger();
            AtomicInteger rejected = new AtomicInteger();
            AtomicInteger conflicts = new AtomicInteger();
            ConcurrentLinkedQueue<UUID> live = new ConcurrentLinkedQueue<>();
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < requests; i++) {
                final int n = i;
                futures.add(pool.submit(() -> {
                    start.await();
                    Random random = new Random(n);
                    int gpus = sizes[random.nextInt(sizes.length)];
                    UUID vm = UUID.randomUUID();
                    jdbc.sql("""
                            INSERT INTO vm (id, project_id, name, instance_type, gpu_model, gpu_count, vcpus, memory_mib)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                            """).params(vm, project, "conc-" + n, "h100x" + gpus, MODEL, gpus, gpus * 12,
                            gpus * 96L * 1024).update();
                    var outcome = instances.get(n % 2).place(new PlacementRequest(vm, MODEL, gpus, gpus * 12,
                            gpus * 96L * 1024, "conc-1", Set.of(), NumaPolicy.REQUIRED, n % 3 == 0, null));
                    conflicts.addAndGet(outcome.conflicts());
                    if (outcome.placement().isPresent()) {
                        placedCount.incrementAndGet();
                        live.add(vm);
                        if (random.nextBoolean()) { // half of them end while others are still arriving
                            UUID victim = live.poll();
                            if (victim != null) {
                                instances.get((n + 1) % 2).release(victim);
                            }
                        }
                    } else {
                        rejected.incrementAndGet();
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : futures) {
                f.get(120, TimeUnit.SECONDS);
            }
            pool.shutdown();

            System.out.printf("concurrency: %d placed, %d rejected, %d conflicts retried%n", placedCount.get(),
                    rejected.get(), conflicts.get());
            assertThat(placedCount.get()).as("placements").isGreaterThan(60);
            assertThat(rejected.get()).as("the fleet is too small for everyone").isGreaterThan(0);
            assertThat(audit.violations()).isEmpty();

            long held = jdbc.sql("SELECT count(*) FROM pci_device d JOIN host h ON h.id = d.host_id "
                    + "WHERE h.location = 'conc-1' AND d.vm_id IS NOT NULL").query(Long.class).single();
            assertThat(held).as("live VMs hold GPUs").isPositive();

            // Release the rest from both instances: the fleet must come back whole.
            List<UUID> rest = new ArrayList<>(live);
            Collections.shuffle(rest, new Random(1));
            for (int i = 0; i < rest.size(); i++) {
                instances.get(i % 2).release(rest.get(i));
            }
            assertThat(audit.violations()).isEmpty();
            long stillHeld = jdbc.sql("""
                    SELECT (SELECT count(*) FROM pci_device d JOIN host h ON h.id = d.host_id
                             WHERE h.location = 'conc-1' AND d.vm_id IS NOT NULL)
                         + (SELECT count(*) FROM vm_cpu c JOIN host h ON h.id = c.host_id
                             WHERE h.location = 'conc-1')
                         + (SELECT coalesce(sum(cardinality(n.held_cpus)), 0) FROM numa_node n JOIN host h ON h.id = n.host_id
                             WHERE h.location = 'conc-1')
                         + (SELECT coalesce(sum(used_hugepages_1g + used_gpus + used_cpus), 0) FROM host
                             WHERE location = 'conc-1')
                    """).query(Long.class).single();
            assertThat(stillHeld).as("everything released").isZero();
        }
    }
}
