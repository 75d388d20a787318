package io.gpucloud.controlplane.workflow;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import io.gpucloud.controlplane.database.PgNotifications;
import org.springframework.context.SmartLifecycle;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Runs due strands (Ubicloud's respirate). Each dispatcher thread leases one due strand with
 * {@code FOR NO KEY UPDATE SKIP LOCKED}, runs its label in a transaction that re-checks the lease,
 * and commits the label's writes with the outcome. Hops continue in the same thread at once; naps
 * end early when a NOTIFY on {@code strand_wakeup} says something woke a strand. A label
 * that throws is retried with exponential backoff. Several instances share the table safely.
 */
@Component
public class Dispatcher implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(Dispatcher.class);
    private static final int MAX_HOPS_PER_LEASE = 50;

    private final JdbcClient jdbc;
    private final TransactionTemplate tx;
    private final StrandStore store;
    private final WorkflowProperties properties;
    private final MeterRegistry meters;
    private final Map<String, Prog> progs;
    /** The progs' resting labels as a PostgreSQL text array literal: {vm.running,...}. */
    private final String restingLabels;
    private final String owner;
    private final AtomicBoolean running = new AtomicBoolean();
    private final Object wakeup = new Object();
    // the health watch waits on this between rounds, so that stop() need not wait out its 5 s
    private final Object stopping = new Object();
    // bumped on every NOTIFY, so a wake-up between "nothing due" and "wait" is not lost
    private final AtomicLong wakeups = new AtomicLong();
    private final AtomicLong lagMillis = new AtomicLong();
    private final AtomicLong stuck = new AtomicLong();
    private List<Thread> threads = List.of();

    public Dispatcher(JdbcClient jdbc, TransactionTemplate tx, PgNotifications notifications, StrandStore store,
                      WorkflowProperties properties, MeterRegistry meters, List<Prog> progs) {
        this.jdbc = jdbc;
        this.tx = tx;
        notifications.subscribe(StrandStore.CHANNEL, payload -> {
            synchronized (wakeup) {
                wakeups.incrementAndGet();
                wakeup.notifyAll();
            }
        });
        this.store = store;
        this.properties = properties;
        this.meters = meters;
        this.progs = progs.stream().collect(Collectors.toMap(Prog::name, Function.identity()));
        this.restingLabels = "{" + progs.stream().flatMap(p -> p.restingLabels().stream().map(l -> p.name() + "." + l))
                .sorted().collect(Collectors.joining(",")) + "}";
        this.owner = ManagementFactory.getRuntimeMXBean().getName() + "/" + UUID.randomUUID().toString().substring(0, 8);
        meters.gauge("gpucloud.workflow.lag.seconds", lagMillis, v -> v.get() / 1000.0);
        meters.gauge("gpucloud.workflow.stuck", stuck, AtomicLong::get);
    }

    @Override
    public void start() {
        if (!properties.enabled() || !running.compareAndSet(false, true)) {
            return;
        }
        List<Thread> started = new java.util.ArrayList<>();
        for (int i = 0; i < properties.threads(); i++) {
            Thread t = new Thread(this::loop, "strand-dispatcher-" + i);
            t.setDaemon(true);
            t.start();
            started.add(t);
        }
        Thread health = new Thread(this::watchHealth, "strand-health");
        health.setDaemon(true);
        health.start();
        started.add(health);
        threads = started;
        log.info("Strand dispatcher {} started with {} threads", owner, properties.threads());
    }

    @Override
    public void stop() {
        running.set(false);
        synchronized (wakeup) {
            wakeup.notifyAll();
        }
        synchronized (stopping) {
            stopping.notifyAll();
        }
        for (Thread t : threads) {
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public boolean isRunning() {
        return running.get();
    }

    @Override
    public int getPhase() {
        // start after the web server (workers can reach us), stop before the data source closes
        return Integer.MAX_VALUE - 100;
    }

    private void loop() {
        while (running.get()) {
            try {
                long seen = wakeups.get();
                UUID id = leaseOne();
                if (id == null) {
                    synchronized (wakeup) {
                        if (wakeups.get() == seen) {
                            wakeup.wait(properties.pollInterval().toMillis());
                        }
                    }
                    continue;
                }
                runLeased(id);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                if (running.get()) {
                    log.warn("Dispatcher loop error: {}", e.toString());
                    sleepQuietly(Duration.ofMillis(500));
                }
            }
        }
    }

    private UUID leaseOne() {
        return jdbc.sql("""
                UPDATE strand SET lease_until = now() + make_interval(secs => ?), lease_owner = ?
                 WHERE id = (SELECT id FROM strand
                              WHERE exitval IS NULL AND schedule <= now()
                                AND (lease_until IS NULL OR lease_until < now())
                              ORDER BY schedule LIMIT 1
                              FOR NO KEY UPDATE SKIP LOCKED)
                RETURNING id
                """)
                .params(properties.lease().toSeconds(), owner)
                .query(UUID.class).optional().orElse(null);
    }

    /** Runs labels of a leased strand until it naps, exits, fails or hops too often. */
    void runLeased(UUID id) {
        for (int hops = 0; hops < MAX_HOPS_PER_LEASE; hops++) {
            Outcome outcome;
            try {
                outcome = runOneLabel(id);
            } catch (RuntimeException e) {
                recordFailure(id, e);
                return;
            }
            if (!(outcome instanceof Outcome.Hop)) {
                return;
            }
        }
        jdbc.sql("UPDATE strand SET lease_until = NULL, lease_owner = NULL WHERE id = ? AND lease_owner = ?")
                .params(id, owner).update();
    }

    private Outcome runOneLabel(UUID id) {
        return tx.execute(status -> {
            Strand strand = jdbc.sql("""
                    SELECT id, prog, label, try, stack::text AS stack FROM strand
                     WHERE id = ? AND lease_owner = ? AND exitval IS NULL FOR NO KEY UPDATE
                    """)
                    .params(id, owner)
                    .query((rs, n) -> new Strand(rs.getObject("id", UUID.class), rs.getString("prog"),
                            rs.getString("label"), rs.getInt("try"), store.parseStack(rs.getString("stack")), store))
                    .optional().orElse(null);
            if (strand == null) {
                return Outcome.exit("lease lost"); // another instance took over after our lease ran out
            }
            Prog prog = progs.get(strand.prog());
            if (prog == null) {
                throw new IllegalStateException("no prog named " + strand.prog());
            }
            try (var logContext = logContext(strand.stack().get("vmId"), strand.stack().get("hostId"))) {
                Timer.Sample sample = Timer.start(meters);
                Outcome outcome = prog.run(strand.label(), strand);
                sample.stop(meters.timer("gpucloud.workflow.label.duration", "prog", strand.prog(), "label",
                        strand.label()));
                apply(strand, outcome);
                return outcome;
            }
        });
    }

    private void apply(Strand strand, Outcome outcome) {
        String stack = store.writeStack(strand.stack());
        if (outcome instanceof Outcome.Nap nap) {
            outcome = Outcome.napAt(strand.label(), nap.duration()); // a nap stays at the label it is at
        }
        if (outcome instanceof Outcome.Hop hop) {
            jdbc.sql("""
                    UPDATE strand SET label = ?, stack = ?::jsonb, schedule = now(), try = 0, last_error = NULL,
                           label_entered_at = CASE WHEN label = ? THEN label_entered_at ELSE now() END
                     WHERE id = ?
                    """).params(hop.label(), stack, hop.label(), strand.id()).update();
        } else if (outcome instanceof Outcome.NapAt napAt) {
            jdbc.sql("""
                    UPDATE strand SET label = ?, stack = ?::jsonb, schedule = now() + make_interval(secs => ?), try = 0,
                           last_error = NULL, lease_until = NULL, lease_owner = NULL,
                           label_entered_at = CASE WHEN label = ? THEN label_entered_at ELSE now() END
                     WHERE id = ?
                    """).params(napAt.label(), stack, napAt.duration().toMillis() / 1000.0, napAt.label(), strand.id())
                    .update();
        } else if (outcome instanceof Outcome.Exit exit) {
            jdbc.sql("""
                    UPDATE strand SET stack = ?::jsonb, exitval = to_jsonb(CAST(? AS text)), lease_until = NULL,
                           lease_owner = NULL WHERE id = ?
                    """).params(stack, exit.result(), strand.id()).update();
        }
    }

    private void recordFailure(UUID id, RuntimeException e) {
        // the label's own MDC is gone with its transaction; the operator reading this line needs the VM and host
        String[] where = jdbc.sql("SELECT prog || '.' || label, stack->>'vmId', stack->>'hostId' FROM strand WHERE id = ?")
                .param(id).query((rs, n) -> new String[] {rs.getString(1), rs.getString(2), rs.getString(3)})
                .optional().orElse(new String[] {"?", null, null});
        String label = where[0];
        meters.counter("gpucloud.workflow.failures", "label", label).increment();
        try (var logContext = logContext(where[1], where[2])) {
            log.warn("Strand {} failed in {}: {}", id, label, e.toString());
        }
        jdbc.sql("""
                UPDATE strand SET try = try + 1, lease_until = NULL, lease_owner = NULL, last_error = ?,
                       schedule = now() + make_interval(secs => LEAST(?, power(2, LEAST(try, 20)) * 0.5))
                 WHERE id = ?
                """).params(truncate(e.toString()), properties.maxBackoff().toSeconds(), id).update();
    }

    /** Workflow lag (oldest due strand) and stuck labels, for alerts. */
    private void watchHealth() {
        while (running.get()) {
            try {
                lagMillis.set(jdbc.sql("""
                        SELECT coalesce(EXTRACT(EPOCH FROM now() - min(schedule)) * 1000, 0)::bigint FROM strand
                         WHERE exitval IS NULL AND schedule <= now()
                        """).query(Long.class).single());
                Map<String, Long> stuckLabels = stuckLabels();
                long stuckNow = stuckLabels.values().stream().mapToLong(Long::longValue).sum();
                if (stuckNow > stuck.get()) {
                    log.warn("{} strands have been in the same label for more than {}: {}", stuckNow,
                            properties.stuckAfter(), stuckLabels);
                }
                stuck.set(stuckNow);
            } catch (RuntimeException e) {
                // the next round will tell
            }
            synchronized (stopping) {
                try {
                    if (running.get()) {
                        stopping.wait(5000);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /**
     * "prog.label" → strands that have been at that label for longer than {@code stuck-after}, most first;
     * the progs' resting labels (a running VM) do not count.
     */
    Map<String, Long> stuckLabels() {
        Map<String, Long> stuckAt = new LinkedHashMap<>();
        jdbc.sql("""
                SELECT prog || '.' || label, count(*) FROM strand
                 WHERE exitval IS NULL AND label_entered_at < now() - make_interval(secs => ?)
                   AND NOT (prog || '.' || label = ANY (?::text[]))
                 GROUP BY 1 ORDER BY 2 DESC, 1
                """).params(properties.stuckAfter().toSeconds(), restingLabels)
                .query(rs -> {
                    stuckAt.put(rs.getString(1), rs.getLong(2));
                });
        return stuckAt;
    }

    /** The VM and host a strand works for, on every log line written until it is closed. */
    private static LogContext logContext(Object vmId, Object hostId) {
        MDC.put("vmId", vmId == null ? "" : vmId.toString());
        MDC.put("hostId", hostId == null ? "" : hostId.toString());
        return new LogContext();
    }

    private static final class LogContext implements AutoCloseable {
        @Override
        public void close() {
            MDC.remove("vmId");
            MDC.remove("hostId");
        }
    }

    private static String truncate(String s) {
        return s.length() <= 2000 ? s : s.substring(0, 2000);
    }

    private static void sleepQuietly(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
