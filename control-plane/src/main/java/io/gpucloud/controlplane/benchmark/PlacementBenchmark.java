package io.gpucloud.controlplane.benchmark;

import io.gpucloud.controlplane.placement.PlacementAudit;
import io.gpucloud.controlplane.placement.PlacementService;
import io.gpucloud.controlplane.tenancy.Projects;
import io.gpucloud.placement.NumaPolicy;
import io.gpucloud.placement.PlacementRequest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Profile;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Placement throughput and latency at fleet scale, through the real PlacementService and SQL
 * claim: a synthetic fleet (default 10,000 HGX hosts = 80,000 GPUs) is filled to about half, then
 * concurrent clients keep placing and releasing mixed 1/2/4/8-GPU VMs. Prints placements/s,
 * latency percentiles, conflicts retried and the SQL audit (double allocations must be 0).
 *
 * <pre>
 * java -jar control-plane/target/control-plane.jar --spring.profiles.active=placement-benchmark \
 *      [--benchmark.hosts=10000] [--benchmark.clients=64] [--benchmark.seconds=60]
 * </pre>
 */
@Component
@Profile("placement-benchmark")
class PlacementBenchmark implements ApplicationRunner {

    private static final List<String> MODELS = List.of("H100-SXM5-80GB", "H200-SXM-141GB", "B200-SXM-180GB");
    private static final int[] SIZES = {1, 1, 1, 1, 2, 2, 2, 4, 4, 8};

    private final PlacementService placement;
    private final PlacementAudit audit;
    private final JdbcClient jdbc;
    private final TransactionTemplate tx;
    private final Projects projects;
    private final ConfigurableApplicationContext context;
    private final io.micrometer.core.instrument.MeterRegistry meters;
    private final int hosts;
    private final int clients;
    private final int seconds;
    private final int warmupSeconds;
    private final double fill;

    PlacementBenchmark(PlacementService placement, PlacementAudit audit, JdbcClient jdbc, TransactionTemplate tx,
                       Projects projects, ConfigurableApplicationContext context,
                       io.micrometer.core.instrument.MeterRegistry meters,
                       @Value("${benchmark.hosts:10000}") int hosts, @Value("${benchmark.clients:64}") int clients,
                       @Value("${benchmark.seconds:60}") int seconds,
                       @Value("${benchmark.warmup-seconds:20}") int warmupSeconds,
                       @Value("${benchmark.fill:0.5}") double fill) {
        this.placement = placement;
        this.audit = audit;
        this.jdbc = jdbc;
        this.tx = tx;
        this.projects = projects;
        this.context = context;
        this.meters = meters;
        this.hosts = hosts;
        this.clients = clients;
        this.seconds = seconds;
        this.warmupSeconds = warmupSeconds;
        this.fill = fill;
    }

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(PlacementBenchmark.class);

    @Override
    public void run(ApplicationArguments args) throws Exception {
        // also loads the logging classes now: at exit the executable jar may already be closed
        log.info("Placement benchmark: {} hosts, {} clients, {} s", hosts, clients, seconds);
        long t0 = System.nanoTime();
        new SyntheticFleet(jdbc, tx).create("bench", "bench-1", hosts, MODELS);
        System.out.printf("seeded %,d hosts (%,d GPUs, %,d CPUs) in %.1f s%n", hosts, hosts * 8, hosts * 224L,
                (System.nanoTime() - t0) / 1e9);
        UUID project = projects.ensureProject("bench", "bench");
        // A long-running control plane holds every host's snapshot in memory (the fleet cache loads
        // them in the background); load them now so the measurement does not start cold.
        long w0 = System.nanoTime();
        int warmed = placement.warmUp();
        System.out.printf("fleet cache: %,d host snapshots loaded in %.1f s%n", warmed, (System.nanoTime() - w0) / 1e9);

        long targetGpusPerClient = (long) (hosts * 8 * fill / clients);
        AtomicLong measuring = new AtomicLong(0); // 0 = warm-up, 1 = measure, 2 = stop
        List<Client> workers = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            workers.add(new Client(i, project, targetGpusPerClient, measuring));
        }
        CountDownLatch done = new CountDownLatch(clients);
        for (Client c : workers) {
            Thread t = new Thread(() -> {
                try {
                    c.run();
                } finally {
                    done.countDown();
                }
            }, "bench-client-" + c.id);
            t.setDaemon(true);
            t.start();
        }
        // Measure the steady state: first fill the fleet to the target (while it fills, placements
        // outnumber releases and flatter the rate), then let the JIT settle for the warm-up time.
        long f0 = System.nanoTime();
        long fillGoal = (long) (hosts * 8L * fill * 0.9);
        long filled = 0;
        while (System.nanoTime() - f0 < 180_000_000_000L) {
            filled = jdbc.sql("SELECT coalesce(sum(used_gpus), 0) FROM host WHERE location = 'bench-1'")
                    .query(Long.class).single();
            if (filled >= fillGoal) {
                break;
            }
            Thread.sleep(500);
        }
        System.out.printf("warm-up: fleet %.0f %% allocated after %.1f s, then %d s more%n",
                100.0 * filled / (hosts * 8L), (System.nanoTime() - f0) / 1e9, warmupSeconds);
        Thread.sleep(warmupSeconds * 1000L);
        long start = System.nanoTime();
        measuring.set(1);
        Thread.sleep(seconds * 1000L);
        measuring.set(2);
        double elapsed = (System.nanoTime() - start) / 1e9;
        done.await();

        long placedCount = 0, failed = 0, conflicts = 0, releases = 0;
        List<long[]> all = new ArrayList<>();
        int total = 0;
        for (Client c : workers) {
            placedCount += c.placed;
            failed += c.unplaceable;
            conflicts += c.conflicts;
            releases += c.releases;
            total += c.latencyCount;
            all.add(Arrays.copyOf(c.latencies, c.latencyCount));
        }
        long[] lat = new long[total];
        int k = 0;
        for (long[] a : all) {
            System.arraycopy(a, 0, lat, k, a.length);
            k += a.length;
        }
        Arrays.sort(lat);
        long usedGpus = jdbc.sql("SELECT sum(used_gpus) FROM host WHERE location = 'bench-1'").query(Long.class).single();
        List<String> violations = audit.violations();
        System.out.println();
        System.out.printf("fleet: %,d hosts, %,d GPUs, %.0f %% allocated at the end%n", hosts, hosts * 8,
                100.0 * usedGpus / (hosts * 8));
        System.out.printf("clients: %d, measured: %.1f s after %d s warm-up%n", clients, elapsed, warmupSeconds);
        System.out.printf("placements: %,d (%.0f placements/s), releases: %,d, unplaceable: %,d%n", placedCount,
                placedCount / elapsed, releases, failed);
        System.out.printf("latency of place(): p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms%n",
                pct(lat, 0.50), pct(lat, 0.90), pct(lat, 0.99), lat.length == 0 ? 0 : lat[lat.length - 1] / 1e6);
        System.out.printf("conflicts retried: %,d (%.2f per placement)%n", conflicts,
                placedCount == 0 ? 0 : (double) conflicts / placedCount);
        for (String stage : List.of("candidates", "snapshot", "decide", "claim", "refresh")) {
            var timer = meters.find("gpucloud.placement.stage").tag("stage", stage).timer();
            if (timer != null) {
                System.out.printf("  stage %-10s mean %.2f ms over %,d calls%n", stage,
                        timer.mean(java.util.concurrent.TimeUnit.MILLISECONDS), timer.count());
            }
        }
        meters.find("gpucloud.placement.conflicts.by.reason").counters().forEach(c -> System.out.printf(
                "  conflicts %-12s %,d%n", c.getId().getTag("reason"), (long) c.count()));
        meters.find("gpucloud.placement.cache.host.reads").counters().forEach(c -> System.out.printf(
                "  hosts read from the database, %-9s %,d (whole run)%n", c.getId().getTag("reason"), (long) c.count()));
        System.out.printf("double allocations / counter drift (SQL audit): %s%n",
                violations.isEmpty() ? "0" : String.join("; ", violations));
        System.exit(SpringApplication.exit(context, () -> violations.isEmpty() ? 0 : 1));
    }

    private static double pct(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)] / 1e6;
    }

    private final class Client {
        final int id;
        final UUID project;
        final long targetGpus;
        final AtomicLong phase;
        final SplittableRandom random;
        final ArrayDeque<long[]> liveSizes = new ArrayDeque<>();
        final ArrayDeque<UUID> live = new ArrayDeque<>();
        long liveGpus;
        long placed, unplaceable, conflicts, releases;
        long[] latencies = new long[1 << 16];
        int latencyCount;
        int sequence;

        Client(int id, UUID project, long targetGpus, AtomicLong phase) {
            this.id = id;
            this.project = project;
            this.targetGpus = targetGpus;
            this.phase = phase;
            this.random = new SplittableRandom(id * 7919L + 17);
        }

        void run() {
            while (phase.get() < 2) {
                // Hover around the fill target: above it, release the oldest VM; below it, place.
                if (liveGpus > targetGpus || (liveGpus > targetGpus * 0.9 && random.nextBoolean())) {
                    release();
                } else {
                    place();
                }
            }
        }

        void place() {
            int gpus = SIZES[random.nextInt(SIZES.length)];
            String model = MODELS.get(random.nextInt(MODELS.size()));
            UUID vm = UUID.randomUUID();
            jdbc.sql("""
                    INSERT INTO vm (id, project_id, name, instance_type, gpu_model, gpu_count, vcpus, memory_mib, state)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'provisioning')
                    """).params(vm, project, "b" + id + "-" + sequence++, "bench" + gpus, model, gpus, gpus * 12,
                    gpus * 96L * 1024).update();
            long t = System.nanoTime();
            var outcome = placement.place(new PlacementRequest(vm, model, gpus, gpus * 12, gpus * 96L * 1024,
                    "bench-1", Set.of(), NumaPolicy.REQUIRED, false, null));
            long took = System.nanoTime() - t;
            boolean counting = phase.get() == 1;
            if (counting) {
                if (latencyCount == latencies.length) {
                    latencies = Arrays.copyOf(latencies, latencies.length * 2);
                }
                latencies[latencyCount++] = took;
                conflicts += outcome.conflicts();
            }
            if (outcome.placement().isPresent()) {
                live.add(vm);
                liveSizes.add(new long[] {gpus});
                liveGpus += gpus;
                if (counting) placed++;
            } else {
                jdbc.sql("UPDATE vm SET state = 'failed', state_reason = ? WHERE id = ?")
                        .params(outcome.explanation(), vm).update();
                if (counting) unplaceable++;
            }
        }

        void release() {
            UUID vm = live.poll();
            if (vm == null) {
                return;
            }
            liveGpus -= liveSizes.poll()[0];
            placement.release(vm);
            jdbc.sql("UPDATE vm SET state = 'deleted', deleted_at = now() WHERE id = ?").param(vm).update();
            if (phase.get() == 1) releases++;
        }
    }
}
