package io.gpucloud.controlplane.gateway;

import io.gpucloud.controlplane.database.PgNotifications;
import io.gpucloud.controlplane.workflow.StrandStore;
import io.gpucloud.protocol.job.Job;
import io.gpucloud.protocol.job.JobKind;
import io.gpucloud.protocol.job.JobResult;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;
import tools.jackson.databind.json.JsonMapper;

/**
 * Host work as rows: workflows enqueue jobs (once per step, however often the step runs), host
 * workers lease them by long-poll, and results wake the waiting workflow. A lease that runs out
 * (the worker died) puts the job back on offer; jobs are idempotent on the host, so a second run
 * is harmless.
 */
@Service
public class JobQueue implements org.springframework.context.SmartLifecycle {

    public static final Duration LEASE = Duration.ofSeconds(120);
    /**
     * How long a waiting long poll sleeps between looks for a job when nothing wakes it. The
     * {@code worker_job} NOTIFY wakes it at once when a job for its host is enqueued, and every poll
     * is woken when the LISTEN connection is (re)established (notifications sent while it was down are
     * lost), so nothing needs a periodic look: this is longer than any poll ({@link
     * WorkerController}'s 30 s at most), and a poll that nothing woke ends without a second query. A
     * lease that ran out (a dead worker; no NOTIFY says so) is offered again to the host's next poll,
     * at most one poll period (the worker's {@code wait}, 25 s) after it ran out. Until issue 4's
     * follow-up this was 5 s (and 1 s before that): one query per waiting host every period, about 120
     * per second with the provisioning benchmark's 597 hosts, the most frequent statement of the run.
     */
    static final Duration RECHECK = Duration.ofSeconds(30);

    private final JdbcClient jdbc;
    private final JsonMapper json;
    private final StrandStore strands;
    private final MeterRegistry meters;
    // per host: what its waiting long polls wait on
    private final Map<UUID, HostSignal> waiters = new ConcurrentHashMap<>();
    // per host: the newest long poll; an older one still waiting belongs to a worker that went away
    private final Map<UUID, java.util.concurrent.atomic.AtomicLong> polls = new ConcurrentHashMap<>();
    private volatile boolean open;

    public JobQueue(JdbcClient jdbc, JsonMapper json, StrandStore strands, MeterRegistry meters,
                    PgNotifications notifications) {
        this.jdbc = jdbc;
        this.json = json;
        this.strands = strands;
        this.meters = meters;
        notifications.onListening(this::wakeAll);
        notifications.subscribe("worker_job", payload -> {
            try {
                var signal = waiters.get(UUID.fromString(payload));
                if (signal != null) {
                    signal.bump();
                }
            } catch (IllegalArgumentException ignored) {
                // not a host id: nothing waits for it
            }
        });
    }

    public record JobRecord(UUID id, JobKind kind, String state, JobResult result) {
        public boolean succeeded() {
            return "succeeded".equals(state);
        }

        public boolean failed() {
            return "failed".equals(state);
        }
    }

    /**
     * Enqueues the job for a workflow step unless that step already has one; returns the step's job
     * (read back only when the step had one already).
     */
    @Transactional
    public JobRecord enqueueOnce(UUID strandId, String stepKey, UUID hostId, Job job) {
        int inserted = jdbc.sql("""
                INSERT INTO worker_job (id, step_key, host_id, vm_id, strand_id, kind, payload)
                VALUES (?, ?, ?, ?, ?, ?, ?::jsonb)
                ON CONFLICT (strand_id, step_key) WHERE step_key IS NOT NULL DO NOTHING
                """)
                .params(job.id(), stepKey, hostId, job.vmId(), strandId, job.kind().name(), json.writeValueAsString(job))
                .update();
        if (inserted == 0) {
            return find(strandId, stepKey).orElseThrow();
        }
        jdbc.sql("SELECT pg_notify('worker_job', ?)").param(hostId.toString()).query(Object.class).single();
        return new JobRecord(job.id(), job.kind(), "queued", null);
    }

    public Optional<JobRecord> find(UUID strandId, String stepKey) {
        return jdbc.sql("SELECT id, kind, state, result::text AS result FROM worker_job WHERE strand_id = ? AND step_key = ?")
                .params(strandId, stepKey)
                .query((rs, n) -> new JobRecord(rs.getObject("id", UUID.class), JobKind.valueOf(rs.getString("kind")),
                        rs.getString("state"), rs.getString("result") == null ? null
                                : json.readValue(rs.getString("result"), JobResult.class)))
                .optional();
    }

    /**
     * The oldest job on offer for this host, leased to its worker; waits up to {@code wait} for one.
     * A host has one worker taking jobs one at a time, so a newer poll for the host ends older ones
     * (see {@link #endPolls}).
     */
    public Optional<Job> lease(UUID hostId, Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        var signal = waiters.computeIfAbsent(hostId, k -> new HostSignal());
        long mine = endPolls(hostId);
        var newest = polls.get(hostId);
        while (true) {
            long seen = signal.generation();
            if (newest.get() != mine) {
                return Optional.empty();
            }
            Optional<Job> job = tryLease(hostId);
            long left = deadline - System.nanoTime();
            if (job.isPresent() || left <= 0 || !open) {
                return job;
            }
            try {
                signal.awaitChange(seen, Math.min(left, RECHECK.toNanos()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Optional.empty();
            }
            if (signal.generation() == seen && deadline - System.nanoTime() <= 0) {
                return Optional.empty(); // nothing was enqueued for the host since the last look
            }
        }
    }

    /** Wakes every waiting poll to look again (the LISTEN connection came back: a NOTIFY may be lost). */
    private void wakeAll() {
        waiters.values().forEach(HostSignal::bump);
    }

    /**
     * Ends the host's waiting long polls (they answer "no job"); returns the new poll generation. A
     * worker that died or restarted mid-poll leaves its request waiting here, and that request must not
     * lease a job nobody will run until the lease runs out. Called when the host's worker (re)connects
     * and by each new poll; ending a live poll only costs that worker one more request.
     */
    public long endPolls(UUID hostId) {
        long generation = polls.computeIfAbsent(hostId, k -> new java.util.concurrent.atomic.AtomicLong())
                .incrementAndGet();
        waiters.computeIfAbsent(hostId, k -> new HostSignal()).bump();
        return generation;
    }

    // Long polls end when the instance stops, so a graceful shutdown does not wait 30 s for them.
    @Override
    public void start() {
        open = true;
    }

    @Override
    public void stop() {
        open = false;
        waiters.values().forEach(HostSignal::bump);
    }

    @Override
    public boolean isRunning() {
        return open;
    }

    @Override
    public int getPhase() {
        return Integer.MAX_VALUE - 50;
    }

    private Optional<Job> tryLease(UUID hostId) {
        return jdbc.sql("""
                UPDATE worker_job SET state = 'leased', attempts = attempts + 1,
                       lease_until = now() + make_interval(secs => ?), started_at = coalesce(started_at, now())
                 WHERE id = (SELECT id FROM worker_job
                              WHERE host_id = ? AND (state = 'queued' OR (state = 'leased' AND lease_until < now()))
                              ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING payload::text AS payload, attempts
                """)
                .params(LEASE.toSeconds(), hostId)
                .query((rs, n) -> {
                    Job j = json.readValue(rs.getString("payload"), Job.class);
                    return j.withAttempt(rs.getInt("attempts"));
                })
                .optional();
    }

    /**
     * Withdraws a job that no live worker holds (never taken, or its lease ran out): it fails with
     * {@code reason} (error code {@code worker-absent}) and is never offered again. False if a worker
     * holds it (or it already ended): then it runs to its own result.
     *
     * <p>A job whose row is locked right now is being leased or reported, so it is not withdrawn either:
     * waiting for that lock would deadlock a late report, which holds the job and then wakes the strand,
     * against the caller's label, which holds the strand.
     */
    @Transactional
    public boolean withdrawUntaken(UUID jobId, String reason) {
        JobResult result = new JobResult(false, java.util.List.of(), reason, "worker-absent", Map.of());
        return jdbc.sql("""
                UPDATE worker_job SET state = 'failed', result = ?::jsonb, finished_at = now(), lease_until = NULL
                 WHERE id = (SELECT id FROM worker_job
                              WHERE id = ? AND (state = 'queued' OR (state = 'leased' AND lease_until < now()))
                              FOR UPDATE SKIP LOCKED)
                """).params(json.writeValueAsString(result), jobId).update() == 1;
    }

    /**
     * Records a worker's result. Only the host that owns the job may report it (another host's job
     * is "not found"); a late duplicate report for a finished job changes nothing.
     */
    @Transactional
    public boolean complete(UUID hostId, UUID jobId, JobResult result) {
        var row = jdbc.sql("""
                UPDATE worker_job SET state = ?, result = ?::jsonb, finished_at = now(), lease_until = NULL
                 WHERE id = ? AND host_id = ? AND state IN ('queued', 'leased')
                RETURNING strand_id, kind, EXTRACT(EPOCH FROM now() - coalesce(started_at, created_at)) AS seconds
                """)
                .params(result.success() ? "succeeded" : "failed", json.writeValueAsString(result), jobId, hostId)
                .query((rs, n) -> new Object[] {rs.getObject("strand_id", UUID.class), rs.getString("kind"),
                        rs.getDouble("seconds")})
                .optional();
        if (row.isEmpty()) {
            return jdbc.sql("SELECT EXISTS (SELECT 1 FROM worker_job WHERE id = ? AND host_id = ?)")
                    .params(jobId, hostId).query(Boolean.class).single();
        }
        Object[] r = row.get();
        meters.timer("gpucloud.worker.job.duration", "kind", (String) r[1], "result",
                result.success() ? "success" : "failure").record(Duration.ofMillis((long) ((double) r[2] * 1000)));
        if (r[0] != null) {
            strands.wake((UUID) r[0]);
        }
        return true;
    }

    /**
     * A host's wake-up for its waiting long polls: a generation bumped on every NOTIFY, so a wake-up
     * between "nothing to lease" and "wait" is not lost. A lock and condition rather than a monitor: on
     * Java 21 to 23 a virtual thread in {@code Object.wait} pins its carrier thread, and hundreds of
     * long polls would hold every carrier.
     */
    private static final class HostSignal {
        private final java.util.concurrent.locks.ReentrantLock lock = new java.util.concurrent.locks.ReentrantLock();
        private final java.util.concurrent.locks.Condition changed = lock.newCondition();
        // written under the lock (so a waiter cannot miss a bump between its check and its wait), read without
        private volatile long generation;

        long generation() {
            return generation;
        }

        void bump() {
            lock.lock();
            try {
                generation++;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }

        /** Waits until the generation is no longer {@code seen}, at most {@code nanos}. */
        void awaitChange(long seen, long nanos) throws InterruptedException {
            lock.lock();
            try {
                long left = Math.max(1_000_000, nanos);
                while (generation == seen && left > 0) {
                    left = changed.awaitNanos(left);
                }
            } finally {
                lock.unlock();
            }
        }
    }
}
