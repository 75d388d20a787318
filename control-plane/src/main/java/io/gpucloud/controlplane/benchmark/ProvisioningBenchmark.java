package io.gpucloud.controlplane.benchmark;

import io.gpucloud.controlplane.database.PgNotifications;
import io.gpucloud.controlplane.gateway.JobQueue;
import io.gpucloud.controlplane.inventory.HostRegistry;
import io.gpucloud.controlplane.placement.PlacementAudit;
import io.gpucloud.controlplane.tenancy.TokenService;
import io.gpucloud.controlplane.tenancy.Tokens;
import io.gpucloud.protocol.job.Job;
import io.gpucloud.protocol.job.JobResult;
import io.gpucloud.worker.agent.ControlPlaneClient;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Profile;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * End-to-end control-plane overhead of provisioning: from the create request to observing the VM
 * {@code running}, with host workers that answer every job at once (zero host latency). A
 * synthetic fleet is seeded, each host gets a worker credential and a zero-latency worker, then
 * concurrent clients create VMs through {@code POST /admin/api/v1/vms} and wait for {@code running}.
 * What remains is the control plane's own cost: HTTP, placement, the workflow's labels and
 * transactions, job hand-off by NOTIFY and long-poll, and the dispatcher's wake-ups.
 *
 * <pre>
 * java -jar control-plane/target/control-plane.jar --spring.profiles.active=provisioning-benchmark \
 *      [--benchmark.vms=1000] [--benchmark.clients=32] [--benchmark.hosts=auto] \
 *      [--benchmark.worker-mode=http|direct] [--benchmark.sizes=mixed|1] [--benchmark.warmup-vms=300]
 *      [--benchmark.warmup-seconds=120] [--benchmark.rate=0]
 * </pre>
 *
 * Load: with {@code rate} 0 (the default) each client creates its next VM as soon as its last one runs
 * (closed loop: the clients saturate the control plane, and latency is mostly their own queue, about
 * clients / throughput). With {@code rate} R > 0 the VMs are offered at R per second, evenly spaced, by
 * the same clients (open loop: the i-th VM is due at i / R s); each VM's time runs from when it was due,
 * not from when a client got to it, so a control plane that falls behind is charged for the wait too. If
 * all clients are busy when a VM is due, it waits for one, and that wait counts.
 *
 * Warm-up: rounds of {@code warmup-vms} VMs, each created the way the measured phase does and then
 * deleted through {@code DELETE /admin/api/v1/vms/{id}} (waiting for {@code deleted}), repeated until
 * {@code warmup-seconds} have passed, so the JIT has compiled both paths before the measured phase
 * and the fleet is as empty as it was. The warm-up is a time, not a count of rounds: a faster build
 * would otherwise be measured with a colder JIT. A control plane runs for weeks; what it does in its
 * first seconds, while C2 is still compiling, is printed by {@code --benchmark.warmup-seconds=0}.
 *
 * Worker modes: {@code http} runs one thread per host doing exactly what the real worker's job
 * loop does over HTTP (the real {@link ControlPlaneClient}: long-poll {@code jobs/lease?wait=25},
 * then {@code jobs/{id}/result?next=25}, which reports and waits for the next job in one request) and
 * heartbeats through {@code /heartbeat} every {@code gpucloud.inventory.heartbeat-interval} (10 s;
 * {@code --benchmark.heartbeat-seconds} overrides it); it costs one
 * Tomcat thread per host. {@code direct} skips HTTP: a few threads hear the {@code worker_job}
 * NOTIFY and lease/complete through {@link JobQueue} in-process, heartbeats go to
 * {@link HostRegistry#heartbeat}. The end of a VM is seen by one watcher thread that polls the
 * {@code vm} table for the VMs in flight every {@code benchmark.poll-ms} (2 ms).
 */
@Component
@Profile("provisioning-benchmark")
class ProvisioningBenchmark implements ApplicationRunner {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ProvisioningBenchmark.class);
    private static final List<String> MODELS = List.of("H100-SXM5-80GB", "H200-SXM-141GB", "B200-SXM-180GB");
    private static final int[] MIXED = {1, 1, 1, 1, 2, 2, 2, 4, 4, 8};
    private static final JobResult OK = new JobResult(true, List.of(), null, null, Map.of());

    private final JdbcClient jdbc;
    private final TransactionTemplate tx;
    private final TokenService tokens;
    private final JobQueue jobQueue;
    private final HostRegistry registry;
    private final PgNotifications notifications;
    private final PlacementAudit audit;
    private final MeterRegistry meters;
    private final JsonMapper json;
    private final ConfigurableApplicationContext context;
    private final int vms;
    private final int clients;
    private final double rate;
    private final int hostsWanted;
    private final int warmupVms;
    private final int warmupSeconds;
    private final String workerMode;
    private final String sizes;
    private final int directThreads;
    private final int pollMs;
    private final int heartbeatSeconds;

    private final AtomicBoolean stopping = new AtomicBoolean();
    private final AtomicLong jobsAnswered = new AtomicLong();
    private final AtomicLong heartbeats = new AtomicLong();
    private final AtomicLong workerErrors = new AtomicLong();
    private final Map<UUID, CompletableFuture<Long>> inFlight = new ConcurrentHashMap<>();
    private final Map<UUID, String> endStates = new ConcurrentHashMap<>();

    ProvisioningBenchmark(JdbcClient jdbc, TransactionTemplate tx, TokenService tokens, JobQueue jobQueue,
                          HostRegistry registry, PgNotifications notifications, PlacementAudit audit,
                          MeterRegistry meters, JsonMapper json, ConfigurableApplicationContext context,
                          @Value("${benchmark.vms:1000}") int vms, @Value("${benchmark.clients:32}") int clients,
                          @Value("${benchmark.hosts:0}") int hosts,
                          @Value("${benchmark.warmup-vms:300}") int warmupVms,
                          @Value("${benchmark.warmup-seconds:120}") int warmupSeconds,
                          @Value("${benchmark.worker-mode:http}") String workerMode,
                          @Value("${benchmark.sizes:mixed}") String sizes,
                          @Value("${benchmark.direct-threads:4}") int directThreads,
                          @Value("${benchmark.poll-ms:2}") int pollMs,
                          @Value("${benchmark.heartbeat-seconds:0}") int heartbeatSeconds,
                          @Value("${benchmark.rate:0}") double rate,
                          io.gpucloud.controlplane.inventory.InventoryProperties inventory) {
        this.jdbc = jdbc;
        this.tx = tx;
        this.tokens = tokens;
        this.jobQueue = jobQueue;
        this.registry = registry;
        this.notifications = notifications;
        this.audit = audit;
        this.meters = meters;
        this.json = json;
        this.context = context;
        this.vms = vms;
        this.clients = clients;
        if (rate < 0) {
            throw new IllegalArgumentException("benchmark.rate must be 0 (closed loop) or a positive VMs/s");
        }
        this.rate = rate;
        this.warmupVms = warmupVms;
        this.warmupSeconds = warmupSeconds;
        this.workerMode = workerMode;
        this.sizes = sizes;
        this.directThreads = directThreads;
        this.pollMs = pollMs;
        // the period the control plane tells real workers, unless the command line asks for another
        this.heartbeatSeconds = heartbeatSeconds > 0 ? heartbeatSeconds
                : (int) Math.max(1, inventory.heartbeatInterval().toSeconds());
        // Enough GPUs of every model for the measured VMs (warm-up VMs are deleted before) at about 60 %
        // of the fleet, so capacity never runs out and placement is not searching a nearly full fleet.
        double meanGpus = sizes.equals("1") ? 1 : Arrays.stream(MIXED).average().orElse(1);
        int auto = (int) Math.ceil(Math.max(vms, warmupVms) * meanGpus / 8 / 0.6 / MODELS.size()) * MODELS.size();
        this.hostsWanted = hosts > 0 ? hosts : auto;
    }

    @Override
    public void run(ApplicationArguments args) throws Exception {
        log.info("Provisioning benchmark: {} VMs ({} sizes), {} clients, {} hosts, workers over {}", vms, sizes,
                clients, hostsWanted, workerMode);
        int port = ((WebServerApplicationContext) context).getWebServer().getPort();
        URI base = URI.create("http://127.0.0.1:" + port + "/");

        long t0 = System.nanoTime();
        new SyntheticFleet(jdbc, tx).create("pbench", "bench-1", hostsWanted, MODELS);
        List<UUID> hostIds = jdbc.sql("SELECT id FROM host WHERE location = 'bench-1' ORDER BY name")
                .query(UUID.class).list();
        Map<UUID, String> credentials = new LinkedHashMap<>();
        tx.executeWithoutResult(s -> {
            for (UUID h : hostIds) {
                String token = Tokens.generate("host");
                credentials.put(h, token);
                jdbc.sql("UPDATE host SET credential_hash = ?, last_heartbeat_at = now(), worker_version = '0.1.0' "
                        + "WHERE id = ?").params(Tokens.hash(token), h).update();
            }
        });
        seededAt = java.time.Instant.now();
        String admin = tokens.issueAdminToken("provisioning-benchmark").token();
        System.out.printf("seeded %,d hosts (%,d GPUs) with worker credentials in %.1f s%n", hostIds.size(),
                hostIds.size() * 8, (System.nanoTime() - t0) / 1e9);

        List<Thread> background = new ArrayList<>();
        if (workerMode.equals("http")) {
            startHttpWorkers(base, credentials, background);
        } else if (workerMode.equals("direct")) {
            startDirectWorkers(hostIds, background);
        } else {
            throw new IllegalArgumentException("benchmark.worker-mode must be http or direct");
        }
        Thread watcher = daemon("bench-watcher", this::watch);
        background.add(watcher);

        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
        Thread.sleep(500); // let the workers' first long-polls arrive

        long warmUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(warmupSeconds);
        for (int round = 1; warmupVms > 0 && warmupSeconds > 0 && (round == 1 || System.nanoTime() < warmUntil);
             round++) {
            Phase warm = runPhase("w" + round, warmupVms, base, admin, http, 0);
            double deleted = deleteAll(warm.ids, base, admin, http);
            System.out.printf("warm-up round %d: %d VMs created in %.1f s, deleted in %.1f s (not counted)%n", round,
                    warmupVms, warm.seconds, deleted);
        }
        if (warmupVms <= 0 || warmupSeconds <= 0) {
            System.out.println("warm-up: none (a cold JVM: the JIT compiles during the measured phase)");
        }
        // the benchmark's own threads: simulated workers and their HTTP client, clients, heartbeats, watcher
        CpuSplit cpu = CpuSplit.of(jdbc, name -> name.startsWith("bench-") || name.startsWith("HttpClient-"));
        CpuSplit.Sample cpuBefore = cpu.sample();
        System.out.printf("measuring: %,d VMs by %d clients, %s%n", vms, clients, load());
        long beatsBefore = heartbeats.get();
        long measuredFrom = System.nanoTime();
        Map<String, double[]> labelsBefore = labelTimes();
        Map<String, double[]> jobsBefore = jobTimes();
        long jobsBeforeCount = jobsAnswered.get();
        Phase m = runPhase("m", vms, base, admin, http, rate);
        CpuSplit.Sample cpuAfter = cpu.sample();
        Map<String, double[]> labelsAfter = labelTimes();
        Map<String, double[]> jobsAfter = jobTimes();

        stopping.set(true);
        long[] lat = m.latencies.clone();
        Arrays.sort(lat);
        long[] create = m.createLatencies.clone();
        Arrays.sort(create);
        long running = m.ids.stream().filter(id -> "running".equals(endStates.get(id))).count();
        System.out.println();
        double measuredSeconds = (System.nanoTime() - measuredFrom) / 1e9;
        System.out.printf("fleet: %,d hosts, %,d GPUs; workers: %s (%s); heartbeats while measured: %,d "
                        + "(every host every %d s: %,.0f due)%n", hostIds.size(),
                hostIds.size() * 8, workerMode, workerMode.equals("http")
                        ? "1 long-poll thread per host over HTTP" : directThreads + " in-process threads via JobQueue",
                heartbeats.get() - beatsBefore, heartbeatSeconds,
                hostIds.size() * measuredSeconds / heartbeatSeconds);
        System.out.printf("VMs: %,d (%s GPUs: %s) by %d clients over POST /admin/api/v1/vms, %s; running: %,d, "
                        + "failed: %,d, timed out: %,d%n", vms, sizes, m.sizeMix(), clients, load(), running,
                m.failed.get(), m.timedOut.get());
        if (rate > 0) {
            System.out.printf("  clients busy when a VM was due, so it waited for one: %,d VMs%n", m.late.get());
        }
        System.out.printf("wall: %.2f s -> %.1f VMs/s; jobs answered: %,d; worker errors: %,d%n", m.seconds,
                vms / m.seconds, jobsAnswered.get() - jobsBeforeCount, workerErrors.get());
        System.out.printf("CPU per VM while measured: %s%n", cpu.perUnit(cpuBefore, cpuAfter, vms));
        System.out.printf("create -> running: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms, mean %.1f ms "
                        + "(target p50 <= 50 ms, p99 <= 250 ms: %s)%n", pct(lat, .5), pct(lat, .9), pct(lat, .99),
                pct(lat, 1), mean(lat), pct(lat, .5) <= 50 && pct(lat, .99) <= 250 ? "met" : "MISSED");
        System.out.printf("  of which POST /vms answered (202): p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms%n",
                pct(create, .5), pct(create, .9), pct(create, .99), pct(create, 1));
        System.out.printf("  observation granularity: watcher polls every %d ms (%,d polls, mean poll %.2f ms)%n",
                pollMs, polls.get(), polls.get() == 0 ? 0 : pollNanos.get() / 1e6 / polls.get());

        System.out.println("workflow labels during the measured run (gpucloud.workflow.label.duration):");
        System.out.printf("  %-34s %8s %9s %10s%n", "label", "runs", "mean ms", "total s");
        labelsAfter.entrySet().stream()
                .sorted((a, b) -> Double.compare(b.getValue()[1] - labelsBefore.getOrDefault(b.getKey(),
                        new double[2])[1], a.getValue()[1] - labelsBefore.getOrDefault(a.getKey(), new double[2])[1]))
                .forEach(e -> {
                    double[] b = labelsBefore.getOrDefault(e.getKey(), new double[2]);
                    double n = e.getValue()[0] - b[0];
                    double total = e.getValue()[1] - b[1];
                    if (n > 0) {
                        System.out.printf("  %-34s %8.0f %9.2f %10.2f%n", e.getKey(), n, total / n * 1000, total);
                    }
                });
        System.out.println("host jobs, enqueue -> result recorded (gpucloud.worker.job.duration):");
        jobsAfter.forEach((k, v) -> {
            double[] b = jobsBefore.getOrDefault(k, new double[2]);
            double n = v[0] - b[0];
            if (n > 0) {
                System.out.printf("  %-20s %8.0f %9.2f ms mean%n", k, n, (v[1] - b[1]) / n * 1000);
            }
        });
        printStages(m.ids);
        double failures = meters.find("gpucloud.workflow.failures").counters().stream()
                .mapToDouble(c -> c.count()).sum();
        System.out.printf("workflow label failures retried with backoff (whole run, warm-up included): %.0f%s%n",
                failures, failures == 0 ? "" : " " + meters.find("gpucloud.workflow.failures").counters().stream()
                        .map(c -> c.getId().getTag("label") + "=" + (long) c.count()).toList());
        System.out.printf("hosts unreachable now: %d; hosts that went unreachable: %d%n",
                jdbc.sql("SELECT count(*) FROM host WHERE state = 'unreachable'").query(Long.class).single(),
                unreachableEvents());

        List<String> violations = audit.violations();
        System.out.printf("placement audit (double allocations / counter drift): %s%n",
                violations.isEmpty() ? "0 violations" : String.join("; ", violations));
        boolean ok = violations.isEmpty() && running == vms;
        System.exit(SpringApplication.exit(context, () -> ok ? 0 : 1));
    }

    // ---- clients ----

    private String load() {
        return rate > 0 ? String.format("offered at %.1f VMs/s (open loop)", rate)
                : "each as soon as its last VM runs (closed loop)";
    }

    private final class Phase {
        final List<UUID> ids = java.util.Collections.synchronizedList(new ArrayList<>());
        long[] latencies;
        long[] createLatencies;
        double seconds;
        final AtomicInteger failed = new AtomicInteger();
        final AtomicInteger timedOut = new AtomicInteger();
        final AtomicInteger late = new AtomicInteger();
        final int[] sizeCounts = new int[9];

        String sizeMix() {
            StringBuilder sb = new StringBuilder();
            for (int g : new int[] {1, 2, 4, 8}) {
                if (sizeCounts[g] > 0) {
                    sb.append(sb.isEmpty() ? "" : ", ").append(sizeCounts[g]).append(" x ").append(g);
                }
            }
            return sb.toString();
        }
    }

    /** {@code count} VMs by the clients; {@code rate} > 0 offers them at that many per second (see the class). */
    private Phase runPhase(String prefix, int count, URI base, String admin, HttpClient http, double rate)
            throws InterruptedException {
        Phase p = new Phase();
        p.latencies = new long[count];
        p.createLatencies = new long[count];
        int[] plan = new int[count];
        String[] models = new String[count];
        SplittableRandom random = new SplittableRandom(prefix.equals("m") ? 42 : 7);
        for (int i = 0; i < count; i++) {
            plan[i] = sizes.equals("1") ? 1 : MIXED[random.nextInt(MIXED.length)];
            models[i] = MODELS.get(random.nextInt(MODELS.size()));
            p.sizeCounts[plan[i]]++;
        }
        AtomicInteger next = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(clients);
        long start = System.nanoTime();
        for (int c = 0; c < clients; c++) {
            daemon("bench-client-" + c, () -> {
                try {
                    for (int i; (i = next.getAndIncrement()) < count; ) {
                        long due = System.nanoTime();
                        if (rate > 0) {
                            due = start + (long) (i * 1e9 / rate);
                            long wait = due - System.nanoTime();
                            if (wait > 0) {
                                sleep((wait + 999_999) / 1_000_000); // never before it is due
                            } else if (wait < -1_000_000) {
                                p.late.incrementAndGet();
                            }
                        }
                        createAndAwait(p, i, prefix + "-" + i, plan[i], models[i], base, admin, http, due);
                    }
                } finally {
                    done.countDown();
                }
            });
        }
        done.await();
        p.seconds = (System.nanoTime() - start) / 1e9;
        return p;
    }

    /**
     * Deletes these VMs through the admin API, {@code clients} requests at a time, and waits until all
     * of them are {@code deleted} (their devices, partitions, cores and memory given back). Returns the
     * seconds it took.
     */
    private double deleteAll(List<UUID> ids, URI base, String admin, HttpClient http) throws InterruptedException {
        long start = System.nanoTime();
        List<UUID> todo = List.copyOf(ids);
        AtomicInteger next = new AtomicInteger();
        CountDownLatch sent = new CountDownLatch(clients);
        for (int c = 0; c < clients; c++) {
            daemon("bench-delete-" + c, () -> {
                try {
                    for (int i; (i = next.getAndIncrement()) < todo.size(); ) {
                        HttpRequest request = HttpRequest.newBuilder(base.resolve("admin/api/v1/vms/" + todo.get(i)))
                                .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + admin)
                                .DELETE().build();
                        HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
                        if (r.statusCode() != 202) {
                            throw new IllegalStateException("DELETE /admin/api/v1/vms/" + todo.get(i) + " answered "
                                    + r.statusCode() + ": " + r.body());
                        }
                    }
                } catch (java.io.IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                } finally {
                    sent.countDown();
                }
            });
        }
        sent.await();
        UUID[] all = todo.toArray(UUID[]::new);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (jdbc.sql("SELECT count(*) FROM vm WHERE id = ANY(?) AND state <> 'deleted'").param(all)
                .query(Long.class).single() > 0) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("warm-up VMs not deleted within 120 s");
            }
            Thread.sleep(20);
        }
        return (System.nanoTime() - start) / 1e9;
    }

    /** Creates VM {@code i} and waits for it; its times run from {@code due} ({@link System#nanoTime()}). */
    private void createAndAwait(Phase p, int i, String name, int gpus, String model, URI base, String admin,
                                HttpClient http, long due) {
        String body = "{\"name\":\"" + name + "\",\"gpuModel\":\"" + model + "\",\"gpuCount\":" + gpus
                + ",\"vcpus\":" + gpus * 12 + ",\"memoryMiB\":" + gpus * 96L * 1024 + ",\"location\":\"bench-1\"}";
        HttpRequest request = HttpRequest.newBuilder(base.resolve("admin/api/v1/vms"))
                .timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + admin)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        long t0 = due;
        UUID id;
        try {
            HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
            p.createLatencies[i] = System.nanoTime() - t0;
            if (r.statusCode() != 202) {
                throw new IllegalStateException("POST /admin/api/v1/vms answered " + r.statusCode() + ": " + r.body());
            }
            JsonNode vm = json.readTree(r.body());
            id = UUID.fromString(vm.get("id").asString());
        } catch (java.io.IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
        p.ids.add(id);
        CompletableFuture<Long> seen = inFlight.computeIfAbsent(id, k -> new CompletableFuture<>());
        try {
            long end = seen.get(120, TimeUnit.SECONDS);
            p.latencies[i] = end - t0;
            if (!"running".equals(endStates.get(id))) {
                p.failed.incrementAndGet();
            }
        } catch (java.util.concurrent.TimeoutException e) {
            p.timedOut.incrementAndGet();
            p.latencies[i] = System.nanoTime() - t0;
            inFlight.remove(id);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private volatile java.time.Instant seededAt;
    private final AtomicLong polls = new AtomicLong();
    private final AtomicLong pollNanos = new AtomicLong();

    /** One thread sees every VM in flight reach running (or failed) by polling the vm table. */
    private void watch() {
        while (!stopping.get()) {
            try {
                if (!inFlight.isEmpty()) {
                    String[] ids = inFlight.keySet().stream().map(UUID::toString).toArray(String[]::new);
                    long t = System.nanoTime();
                    List<String[]> ended = jdbc.sql(
                                    "SELECT id::text, state FROM vm WHERE id = ANY(?::uuid[]) AND state IN ('running', 'failed')")
                            .param(ids).query((rs, n) -> new String[] {rs.getString(1), rs.getString(2)}).list();
                    long now = System.nanoTime();
                    polls.incrementAndGet();
                    pollNanos.addAndGet(now - t);
                    for (String[] e : ended) {
                        UUID id = UUID.fromString(e[0]);
                        endStates.put(id, e[1]);
                        CompletableFuture<Long> f = inFlight.remove(id);
                        if (f != null) {
                            f.complete(now);
                        }
                    }
                }
                Thread.sleep(pollMs);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                log.warn("watcher: {}", e.toString());
            }
        }
    }

    // ---- zero-latency host workers ----

    private void startHttpWorkers(URI base, Map<UUID, String> credentials, List<Thread> background) {
        ControlPlaneClient client = new ControlPlaneClient(base);
        for (var e : credentials.entrySet()) {
            UUID host = e.getKey();
            String credential = e.getValue();
            // the job loop of io.gpucloud.worker.agent.WorkerAgent, with a handler that succeeds at once
            background.add(daemon("bench-worker-" + host.toString().substring(0, 8), () -> {
                while (!stopping.get()) {
                    try {
                        Optional<Job> job = client.leaseJob(host, credential, 25);
                        while (job.isPresent() && !stopping.get()) {
                            jobsAnswered.incrementAndGet(); // counted as sent: the call then waits for the next job
                            // retried as the real worker retries it: a lost result would leave the VM
                            // waiting for the job's lease to expire
                            job = client.reportResultAndLeaseRetrying(host, credential, job.get().id(), OK, 25,
                                    lost -> {
                                        workerErrors.incrementAndGet();
                                        log.warn("worker {}: {} (retrying the report)", host, lost.getMessage());
                                    });
                        }
                    } catch (RuntimeException ex) {
                        if (!stopping.get()) {
                            workerErrors.incrementAndGet();
                            log.warn("worker {}: {}", host, ex.getMessage());
                            sleep(200);
                        }
                    } catch (InterruptedException ex) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }));
        }
        ControlPlaneClient beats = new ControlPlaneClient(base);
        heartbeat(new ArrayList<>(credentials.keySet()), h -> beats.heartbeat(h, credentials.get(h),
                new io.gpucloud.protocol.Heartbeat(java.time.Instant.now(), "0.1.0")));
    }

    /**
     * Every host heartbeats every {@code benchmark.heartbeat-seconds}, the hosts spread over the period.
     * A real worker heartbeats on its own schedule whatever the control plane's load, so the pool has
     * a thread per 16 hosts: with a few threads that each wait for an answer, heartbeats fell behind
     * under load (a quarter of those due arrived) and the benchmark was measured with less load than
     * a real fleet puts on the control plane.
     */
    private void heartbeat(List<UUID> hostIds, java.util.function.Consumer<UUID> beat) {
        int threads = Math.max(4, Math.min(128, hostIds.size() / 16));
        var pool = java.util.concurrent.Executors.newScheduledThreadPool(threads, r -> {
            Thread t = new Thread(r, "bench-heartbeat");
            t.setDaemon(true);
            return t;
        });
        long periodMs = heartbeatSeconds * 1000L;
        for (int i = 0; i < hostIds.size(); i++) {
            UUID h = hostIds.get(i);
            pool.scheduleAtFixedRate(() -> {
                if (stopping.get()) {
                    return;
                }
                try {
                    beat.accept(h);
                    heartbeats.incrementAndGet();
                } catch (RuntimeException ex) {
                    workerErrors.incrementAndGet();
                }
            }, periodMs * i / hostIds.size(), periodMs, TimeUnit.MILLISECONDS);
        }
    }

    private void startDirectWorkers(List<UUID> hostIds, List<Thread> background) {
        LinkedBlockingQueue<UUID> due = new LinkedBlockingQueue<>();
        Map<UUID, Boolean> known = new HashMap<>();
        hostIds.forEach(h -> known.put(h, Boolean.TRUE));
        notifications.subscribe("worker_job", payload -> {
            try {
                UUID h = UUID.fromString(payload);
                if (known.containsKey(h)) {
                    due.add(h);
                }
            } catch (IllegalArgumentException ignored) {
                // not a host id
            }
        });
        for (int i = 0; i < directThreads; i++) {
            background.add(daemon("bench-direct-worker-" + i, () -> {
                while (!stopping.get()) {
                    try {
                        UUID host = due.poll(100, TimeUnit.MILLISECONDS);
                        if (host == null) {
                            continue;
                        }
                        for (Optional<Job> job; (job = jobQueue.lease(host, Duration.ZERO)).isPresent(); ) {
                            jobQueue.complete(host, job.get().id(), OK);
                            jobsAnswered.incrementAndGet();
                        }
                    } catch (InterruptedException ex) {
                        return;
                    } catch (RuntimeException ex) {
                        workerErrors.incrementAndGet();
                        log.warn("direct worker: {}", ex.toString());
                    }
                }
            }));
        }
        // the safety net a long-poll's timeout gives: look for queued jobs nobody was told about
        background.add(daemon("bench-direct-sweep", () -> {
            while (!stopping.get()) {
                sleep(1000);
                try {
                    due.addAll(jdbc.sql("SELECT DISTINCT host_id FROM worker_job WHERE state = 'queued'")
                            .query(UUID.class).list());
                } catch (RuntimeException ignored) {
                    // next round
                }
            }
        }));
        heartbeat(hostIds, h -> registry.heartbeat(h, "0.1.0", null));
    }

    // ---- where the time goes ----

    /** label -> {count, total seconds} */
    private Map<String, double[]> labelTimes() {
        Map<String, double[]> out = new HashMap<>();
        for (Timer t : meters.find("gpucloud.workflow.label.duration").tag("prog", "vm").timers()) {
            out.put(t.getId().getTag("label"), new double[] {t.count(), t.totalTime(TimeUnit.SECONDS)});
        }
        for (Timer t : meters.find("gpucloud.placement.latency").timers()) { // PlacementService.place
            out.put("(placement, in wait_for_capacity)", new double[] {t.count(), t.totalTime(TimeUnit.SECONDS)});
        }
        return out;
    }

    private Map<String, double[]> jobTimes() {
        Map<String, double[]> out = new java.util.TreeMap<>();
        for (Timer t : meters.find("gpucloud.worker.job.duration").timers()) {
            out.put(t.getId().getTag("kind") + "/" + t.getId().getTag("result"),
                    new double[] {t.count(), t.totalTime(TimeUnit.SECONDS)});
        }
        return out;
    }

    /**
     * The measured VMs' timeline from database timestamps (one clock, PostgreSQL's; now() is the
     * time the writing transaction began): create -> first job enqueued, and per host step the time
     * on offer (enqueue -> leased by the worker), at the worker (leased -> result recorded) and back
     * in the workflow (result -> next job enqueued, i.e. wake-up + dispatch + label runs).
     */
    private void printStages(List<UUID> ids) {
        String[] vmIds = ids.stream().map(UUID::toString).toArray(String[]::new);
        System.out.println("stages from database timestamps, ms (p50 / p90 / p99 / mean over measured VMs):");
        List<String[]> rows = jdbc.sql("""
                WITH j AS (
                  SELECT j.vm_id, j.kind, j.created_at, j.started_at, j.finished_at,
                         row_number() OVER (PARTITION BY j.vm_id ORDER BY j.created_at, j.started_at) AS n,
                         lag(j.finished_at) OVER (PARTITION BY j.vm_id ORDER BY j.created_at, j.started_at) AS prev_done
                    FROM worker_job j WHERE j.vm_id = ANY(?::uuid[])),
                s AS (
                  SELECT '1 create -> first job enqueued' AS stage,
                         EXTRACT(EPOCH FROM j.created_at - v.created_at) * 1000 AS ms
                    FROM j JOIN vm v ON v.id = j.vm_id WHERE j.n = 1
                  UNION ALL SELECT '2 job on offer (enqueue -> lease)', EXTRACT(EPOCH FROM started_at - created_at) * 1000 FROM j
                  UNION ALL SELECT '3 job at worker (lease -> result)', EXTRACT(EPOCH FROM finished_at - started_at) * 1000 FROM j
                  UNION ALL SELECT '4 result -> next job enqueued', EXTRACT(EPOCH FROM created_at - prev_done) * 1000
                    FROM j WHERE prev_done IS NOT NULL
                  UNION ALL SELECT '5 last result -> vm running', EXTRACT(EPOCH FROM v.updated_at - max(j.finished_at)) * 1000
                    FROM j JOIN vm v ON v.id = j.vm_id GROUP BY v.id, v.updated_at
                  UNION ALL SELECT '6 create -> running (db clock)', EXTRACT(EPOCH FROM v.updated_at - v.created_at) * 1000
                    FROM vm v WHERE v.id = ANY(?::uuid[]) AND v.state = 'running')
                SELECT stage, count(*),
                       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
                       round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 1),
                       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
                       round(avg(ms)::numeric, 1), round(sum(ms)::numeric / ?, 1)
                  FROM s GROUP BY stage ORDER BY stage
                """).params(vmIds, vmIds, ids.size())
                .query((rs, n) -> new String[] {rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
                        rs.getString(5), rs.getString(6), rs.getString(7)}).list();
        System.out.printf("  %-36s %6s %8s %8s %8s %8s %12s%n", "stage", "n", "p50", "p90", "p99", "mean",
                "per VM (sum)");
        for (String[] r : rows) {
            System.out.printf("  %-36s %6s %8s %8s %8s %8s %12s%n", (Object[]) r);
        }
    }

    private long unreachableEvents() {
        // HostRegistry logs each transition; count hosts whose state changed while the benchmark ran
        return jdbc.sql("SELECT count(*) FROM host WHERE location = 'bench-1' AND state_changed_at > ?")
                .param(java.sql.Timestamp.from(seededAt))
                .query(Long.class).single();
    }

    // ---- helpers ----

    private static Thread daemon(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void sleepNanos(long nanos) {
        if (nanos > 0) {
            sleep(nanos / 1_000_000);
        }
    }

    private static double pct(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        return sorted[Math.max(0, Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1))] / 1e6;
    }

    private static double mean(long[] values) {
        return Arrays.stream(values).average().orElse(0) / 1e6;
    }
}
