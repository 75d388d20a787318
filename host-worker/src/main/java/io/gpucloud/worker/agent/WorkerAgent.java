package io.gpucloud.worker.agent;

import io.gpucloud.protocol.Heartbeat;
import io.gpucloud.protocol.HeartbeatResponse;
import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.RegisterRequest;
import io.gpucloud.protocol.RegisterResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The worker's life toward the control plane: discover, register (or resume with a saved
 * credential), then heartbeat; re-report the topology when asked; fall back to the bootstrap
 * token when the credential is refused. Network failures back off exponentially up to a minute.
 * With a {@link ReconcileSource}, each (re)registration is followed by a report of what the host
 * runs, so the control plane restores what should exist (e.g. after a reboot) and lists orphans.
 */
public class WorkerAgent implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(WorkerAgent.class);
    // how long one request waits for a job (the control plane allows up to 30 s)
    private static final int POLL_SECONDS = 25;
    public static final String VERSION = "0.1.0";

    private final ControlPlaneClient client;
    private final TopologySource topology;
    private final String bootstrapToken;
    private final String location;
    private final CredentialStore store;
    private final ScheduledExecutorService loop;
    private volatile CredentialStore.Identity identity;
    private volatile Map<String, Integer> knownModuleIds = Map.of();
    private volatile Duration heartbeatInterval = Duration.ofSeconds(5);
    private volatile Duration backoff = Duration.ZERO;
    private volatile Instant lastHeartbeatOk;
    private volatile JobHandler jobHandler;
    private volatile ReconcileSource reconcileSource;
    private volatile java.util.function.Supplier<java.util.List<String>> bootImages;
    private volatile boolean reconcilePending;
    private Thread jobThread;

    public WorkerAgent(ControlPlaneClient client, TopologySource topology, String bootstrapToken, String location,
                       CredentialStore store) {
        this.client = client;
        this.topology = topology;
        this.bootstrapToken = bootstrapToken;
        this.location = location;
        this.store = store;
        this.loop = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "host-worker-agent");
            t.setDaemon(true);
            return t;
        });
    }

    public void start() {
        loop.execute(this::tick);
    }

    /** Also take jobs: long-poll the control plane, run each job, report its result. */
    public WorkerAgent withJobs(JobHandler handler) {
        this.jobHandler = handler;
        jobThread = new Thread(this::jobLoop, "host-worker-jobs");
        jobThread.setDaemon(true);
        jobThread.start();
        return this;
    }

    /**
     * After each registration or resume (and each topology re-report), tell the control plane what the
     * host runs; it answers by queueing restore jobs for its VMs. Observation only: this never changes
     * the host, and orphans it finds are left for an operator.
     */
    public WorkerAgent withReconcile(ReconcileSource source) {
        this.reconcileSource = source;
        return this;
    }

    /**
     * Report with each heartbeat which boot images the host holds (null from the source: cannot tell,
     * the last report stays), so that placement sends VMs only where their image is.
     */
    public WorkerAgent withBootImages(java.util.function.Supplier<java.util.List<String>> source) {
        this.bootImages = source;
        return this;
    }

    private void jobLoop() {
        Duration pause = Duration.ZERO;
        while (!loop.isShutdown()) {
            try {
                if (!pause.isZero()) {
                    Thread.sleep(pause.toMillis());
                }
                CredentialStore.Identity me = identity;
                if (me == null) {
                    pause = Duration.ofMillis(200);
                    continue;
                }
                var job = client.leaseJob(me.hostId(), me.credential(), POLL_SECONDS);
                pause = Duration.ZERO;
                // while jobs keep coming, each report also asks for the next one: one request per job
                while (job.isPresent() && !loop.isShutdown()) {
                    io.gpucloud.protocol.job.JobResult result;
                    try (var a = MDC.putCloseable("hostId", me.hostId().toString());
                         var b = MDC.putCloseable("jobId", job.get().id().toString());
                         var c = MDC.putCloseable("vmId", String.valueOf(job.get().vmId()))) {
                        log.info("Running {} (attempt {})", job.get().kind(), job.get().attempt());
                        result = jobHandler.handle(job.get());
                        log.info("{} {}", job.get().kind(), result.success() ? "succeeded" : "failed: " + result.error());
                    }
                    job = report(me, job.get().id(), result);
                }
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                if (loop.isShutdown()) {
                    return;
                }
                pause = pause.isZero() ? Duration.ofMillis(500) : min(pause.multipliedBy(2), Duration.ofSeconds(30));
                log.warn("Job loop: {} (retrying in {} ms)", e.getMessage(), pause.toMillis());
            }
        }
    }

    // A result must not be lost: the job would be re-run after its lease, harmless but slow. Returns
    // the host's next job, leased in the same request.
    private Optional<io.gpucloud.protocol.job.Job> report(CredentialStore.Identity me, java.util.UUID jobId,
            io.gpucloud.protocol.job.JobResult result) throws InterruptedException {
        return client.reportResultAndLeaseRetrying(me.hostId(), me.credential(), jobId, result, POLL_SECONDS,
                e -> log.warn("Reporting the result of job {} failed, retrying: {}", jobId, e.getMessage()));
    }

    public Optional<CredentialStore.Identity> identity() {
        return Optional.ofNullable(identity);
    }

    public Optional<Instant> lastHeartbeatOk() {
        return Optional.ofNullable(lastHeartbeatOk);
    }

    private void tick() {
        Duration next;
        try {
            if (identity == null) {
                connect();
            } else {
                beat();
            }
            reconcileIfPending();
            backoff = Duration.ZERO;
            next = heartbeatInterval;
        } catch (ControlPlaneClient.ControlPlaneException e) {
            if (e.status() == 401 || e.status() == 404) {
                log.warn("Control plane refused this worker's credential ({}); registering again", e.status());
                identity = null;
            }
            backoff = backoff.isZero() ? Duration.ofMillis(500) : min(backoff.multipliedBy(2), Duration.ofMinutes(1));
            log.warn("Control plane call failed, retrying in {} ms: {}", backoff.toMillis(), e.getMessage());
            next = backoff;
        } catch (RuntimeException e) {
            backoff = backoff.isZero() ? Duration.ofSeconds(1) : min(backoff.multipliedBy(2), Duration.ofMinutes(1));
            log.error("Worker loop failed, retrying in {} ms", backoff.toMillis(), e);
            next = backoff;
        }
        if (!loop.isShutdown()) {
            loop.schedule(this::tick, next.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private void connect() {
        Optional<CredentialStore.Identity> saved = store == null ? Optional.empty() : store.load();
        if (saved.isPresent()) {
            try {
                RegisterResponse r = client.reportTopology(saved.get().hostId(), saved.get().credential(),
                        topology.discover(knownModuleIds));
                identity = saved.get();
                reconcilePending = true;
                adopt(r);
                log.info("Resumed as host {}", identity.hostId());
                return;
            } catch (ControlPlaneClient.ControlPlaneException e) {
                if (e.status() != 401 && e.status() != 404) {
                    throw e;
                }
                log.info("Saved credential no longer accepted; registering with the bootstrap token");
            }
        }
        if (bootstrapToken == null || bootstrapToken.isBlank()) {
            throw new IllegalStateException("no saved credential and no bootstrap token: cannot register");
        }
        HostTopology discovered = topology.discover(knownModuleIds);
        RegisterResponse r = client.register(bootstrapToken, new RegisterRequest(VERSION, location, discovered));
        identity = new CredentialStore.Identity(r.hostId(), r.credential());
        if (store != null) {
            store.save(identity);
        }
        reconcilePending = true;
        adopt(r);
        try (var ignored = MDC.putCloseable("hostId", r.hostId().toString())) {
            log.info("Registered {} as host {}", discovered.hostName(), r.hostId());
        }
    }

    private void beat() {
        HeartbeatResponse r = client.heartbeat(identity.hostId(), identity.credential(),
                new Heartbeat(Instant.now(), VERSION, bootImages == null ? null : bootImages.get()));
        lastHeartbeatOk = Instant.now();
        if (r.reportTopology()) {
            adopt(client.reportTopology(identity.hostId(), identity.credential(), topology.discover(knownModuleIds)));
            reconcilePending = true; // a topology report replaces the host's problem list, orphans included
        }
    }

    // A failed report is retried on the next tick; it must not cost the worker its identity (a 404
    // here would otherwise read as "credential refused").
    private void reconcileIfPending() {
        ReconcileSource source = reconcileSource;
        CredentialStore.Identity me = identity;
        if (!reconcilePending || source == null || me == null) {
            return;
        }
        try {
            var answer = client.reconcile(me.hostId(), me.credential(), source.observe());
            reconcilePending = false;
            log.info("Reconciled with the control plane: {} VMs being restored, {} orphans reported",
                    answer.restoring().size(), answer.orphans().size());
        } catch (RuntimeException e) {
            log.warn("Reconciliation report failed, retrying with the next heartbeat: {}", e.getMessage());
        }
    }

    private void adopt(RegisterResponse r) {
        if (r.knownModuleIds() != null) {
            knownModuleIds = Map.copyOf(r.knownModuleIds());
        }
        if (r.heartbeatIntervalSeconds() > 0) {
            heartbeatInterval = Duration.ofSeconds(r.heartbeatIntervalSeconds());
        }
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    @Override
    public void close() {
        loop.shutdownNow();
        if (jobThread != null) {
            jobThread.interrupt();
        }
        try {
            loop.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
