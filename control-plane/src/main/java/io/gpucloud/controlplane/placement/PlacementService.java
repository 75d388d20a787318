package io.gpucloud.controlplane.placement;

import io.gpucloud.placement.HostSnapshot;
import io.gpucloud.placement.Placement;
import io.gpucloud.placement.PlacementDecision;
import io.gpucloud.placement.PlacementPolicy;
import io.gpucloud.placement.PlacementRequest;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionSynchronization;
import org.springframework.transaction.support.TransactionSynchronizationManager;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Filter → score → claim. The policy ranks a snapshot of plausible hosts; the claim walks the
 * ranking until one conditional write set succeeds. A lost race costs a retry, never a double
 * allocation.
 */
@Service
public class PlacementService {

    private static final Logger log = LoggerFactory.getLogger(PlacementService.class);

    // How long a claim that met a newer version waits for a release of ours on that host to be applied
    // before it re-reads the host: well under the wait for a database connection under load.
    private static final long OWN_CHANGE_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(5);

    private final SnapshotLoader loader;
    private final FleetCache fleet;
    private final TransactionTemplate tx;
    private final javax.sql.DataSource dataSource;
    private final PlacementClaims claims;
    private final PlacementPolicy policy;
    private final PlacementProperties properties;
    private final Timer latency;
    private final Counter conflicts;
    private final Counter placed;
    private final Counter unplaceable;
    private final MeterRegistry meters;

    public PlacementService(SnapshotLoader loader, FleetCache fleet, PlacementClaims claims, PlacementPolicy policy,
                            PlacementProperties properties, MeterRegistry meters, TransactionTemplate tx,
                            javax.sql.DataSource dataSource) {
        this.dataSource = dataSource;
        this.loader = loader;
        this.fleet = fleet;
        this.tx = tx;
        this.meters = meters;
        this.claims = claims;
        this.policy = policy;
        this.properties = properties;
        this.latency = Timer.builder("gpucloud.placement.latency").publishPercentiles(0.5, 0.99)
                .description("Time to decide and claim a placement").register(meters);
        this.conflicts = Counter.builder("gpucloud.placement.conflicts")
                .description("Claims lost to a concurrent placement and retried").register(meters);
        this.placed = Counter.builder("gpucloud.placement.placed").register(meters);
        this.unplaceable = Counter.builder("gpucloud.placement.unplaceable")
                .description("Requests for which no host fits now").register(meters);
    }

    /** The outcome: a claimed placement, or the reason in numbers why none fits now. */
    public record Outcome(Optional<Placement> placement, String explanation, int conflicts) {
    }

    public Outcome place(PlacementRequest request) {
        try (var ignored = MDC.putCloseable("vmId", String.valueOf(request.vmId()))) {
            return latency.record(() -> placeTimed(request));
        }
    }

    private Outcome placeTimed(PlacementRequest request) {
        int lost = 0;
        String explanation = "";
        long generation = fleet.generation();
        boolean refreshed = false;
        for (int round = 0; round < properties.maxRounds(); round++) {
            Decided decided = decide(request, properties.candidateLimit());
            if (!decided.decision().placed() && decided.decision().rejections().values().stream()
                    .mapToInt(Integer::intValue).sum() >= properties.candidateLimit()) {
                // Counters said these hosts had room, but none had a fitting unit (free GPUs that are not
                // a free partition): look wider before calling the fleet full.
                decided = decide(request, properties.candidateLimit() * 16);
            }
            PlacementDecision decision = decided.decision();
            Map<UUID, FleetCache.Seen> seen = decided.seen();
            if (!decision.placed()) {
                if (!refreshed) {
                    // The cache may be behind (a host added, or capacity freed by another instance): look
                    // again at fresh rows before saying no (unless a refresh already ran since we began).
                    refreshed = true;
                    stage("refresh", () -> {
                        fleet.refreshAll(generation);
                        return null;
                    });
                    round--;
                    continue;
                }
                explanation = decision.explanation().isEmpty() ? explainEmpty(request) : decision.explanation();
                break;
            }
            int attempts = Math.min(properties.maxClaimAttempts(), decision.candidates().size());
            for (int i = 0; i < attempts; i++) {
                Placement chosen = decision.candidates().get(i);
                try {
                    Placement p = stage("claim", () -> claimOnHost(request, chosen, seen.get(chosen.hostId())));
                    placed.increment();
                    log.debug("Placed on host {} (partition row {}, {} GPUs) after {} conflicts", p.hostId(),
                            p.partitionRowId(), p.gpuDeviceIds().size(), lost);
                    return new Outcome(Optional.of(p), "placed", lost);
                } catch (PlacementClaims.ClaimConflict | DataIntegrityViolationException e) {
                    lost++;
                    conflicts.increment();
                    meters.counter("gpucloud.placement.conflicts.by.reason", "reason", conflictReason(e)).increment();
                }
            }
            explanation = "lost " + lost + " races for the remaining capacity";
        }
        unplaceable.increment();
        return new Outcome(Optional.empty(), explanation, lost);
    }

    /** A decision and, per candidate host, the version of the snapshot it was made on. */
    private record Decided(PlacementDecision decision, Map<UUID, FleetCache.Seen> seen) {
    }

    /** Candidates and snapshots from the fleet cache (re-reading only hosts it holds no current snapshot of). */
    private Decided decide(PlacementRequest request, int limit) {
        List<FleetCache.Slot> slots = stage("candidates", () -> fleet.candidates(request, limit));
        if (slots.isEmpty()) {
            return new Decided(new PlacementDecision(List.of(), Map.of(), ""), Map.of());
        }
        List<FleetCache.Entry> entries = stage("snapshot", () -> fleet.snapshots(slots));
        Map<UUID, FleetCache.Seen> seen = new HashMap<>();
        for (FleetCache.Entry e : entries) {
            seen.put(e.row().id(), new FleetCache.Seen(e.row().allocVersion(), e.row().topology()));
        }
        List<HostSnapshot> hosts = withLifetimes(request, entries);
        int emptyHosts = fleet.emptyHosts(request);
        PlacementDecision decision = stage("decide", () -> policy.decide(request, hosts, emptyHosts));
        return new Decided(decision, seen);
    }

    /** The cache holds no VM end times; a request with a lifetime hint reads them for its candidates. */
    private List<HostSnapshot> withLifetimes(PlacementRequest request, List<FleetCache.Entry> entries) {
        List<HostSnapshot> hosts = new ArrayList<>(entries.size());
        if (request.expectedDuration() == null) {
            for (FleetCache.Entry e : entries) {
                hosts.add(e.snapshot());
            }
            return hosts;
        }
        Map<UUID, List<java.time.Instant>> ends = loader.endTimes(entries.stream().map(e -> e.row().id()).toList());
        for (FleetCache.Entry e : entries) {
            HostSnapshot h = e.snapshot();
            hosts.add(new HostSnapshot(h.hostId(), h.name(), h.location(), h.state(), h.platform(), h.gpuModel(),
                    h.fabricMode(), h.virtualizationMode(), h.passthroughCapable(), h.gpus(), h.partitions(),
                    h.numaNodes(), ends.getOrDefault(h.hostId(), List.of()), h.bootImages()));
        }
        return hosts;
    }

    /**
     * Claims on one host. The database checks that the host is still at the version the decision saw
     * ({@code claim_placement_at}); if not, the host is re-read and the decision made again for it
     * (once). Threads of this instance claim on a host one at a time: a second one skips it (or waits
     * {@code lock-wait-millis} and then decides again on the cache's newer state of that host).
     */
    private Placement claimOnHost(PlacementRequest request, Placement chosen, FleetCache.Seen seen) {
        UUID hostId = chosen.hostId();
        FleetCache.Slot slot = fleet.slot(hostId);
        if (slot == null || seen == null) {
            throw new PlacementClaims.ClaimConflict("host busy or gone");
        }
        boolean locked;
        try {
            locked = properties.lockWaitMillis() <= 0 ? slot.claiming.tryLock()
                    : slot.claiming.tryLock(properties.lockWaitMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PlacementClaims.ClaimConflict("host busy: interrupted");
        }
        if (!locked) {
            throw new PlacementClaims.ClaimConflict("host busy in this instance");
        }
        try {
            Placement p = chosen;
            FleetCache.Seen v = seen;
            for (int attempt = 0; ; attempt++) {
                FleetCache.Entry cur = slot.entry;
                if (cur.row().allocVersion() != v.version() || !cur.row().topology().equals(v.topology())) {
                    // the cache knows a newer state of this host (our own claim, a re-read): decide again on it
                    if (cur.snapshot() == null) {
                        cur = fleet.load(List.of(hostId), "claim").get(hostId);
                        if (cur == null) {
                            throw new PlacementClaims.ClaimConflict("host busy or gone");
                        }
                    }
                    PlacementDecision fresh = policy.decide(request, withLifetimes(request, List.of(cur)),
                            fleet.emptyHosts(request));
                    if (!fresh.placed()) {
                        throw new PlacementClaims.ClaimConflict("host filled up: " + fresh.explanation());
                    }
                    p = fresh.candidates().get(0);
                    v = new FleetCache.Seen(cur.row().allocVersion(), cur.row().topology());
                }
                try {
                    claim(request, p, v);
                    return p;
                } catch (PlacementClaims.StaleSnapshot e) {
                    if (attempt >= 1) {
                        fleet.invalidate(hostId);
                        throw new PlacementClaims.ClaimConflict("host filled up: changed twice while deciding");
                    }
                    if (!fleet.awaitOwnChange(hostId, v.version(), OWN_CHANGE_WAIT_NANOS)) {
                        fleet.load(List.of(hostId), "claim"); // something placed or released here elsewhere: re-read it
                    }
                    FleetCache.Entry reread = slot.entry;
                    if (reread.row().allocVersion() == v.version() && reread.row().topology().equals(v.topology())) {
                        fleet.invalidate(hostId);
                        throw new PlacementClaims.ClaimConflict("host filled up: snapshot did not converge");
                    }
                } catch (PlacementClaims.ClaimConflict e) {
                    if (!e.getMessage().startsWith("host busy")) {
                        fleet.invalidate(hostId); // health, state or the VM itself changed: re-read on next use
                    }
                    throw e;
                } catch (DataIntegrityViolationException e) {
                    fleet.invalidate(hostId); // a CHECK constraint caught a stale counter
                    throw e;
                }
            }
        } finally {
            slot.claiming.unlock();
        }
    }

    /**
     * One conditional claim. Outside a transaction it is a statement of its own; inside a workflow
     * label it runs under a savepoint, so a lost race rolls back the claim alone (PostgreSQL would
     * otherwise abort the label's whole transaction), and the cache learns of it only after commit.
     */
    private void claim(PlacementRequest request, Placement p, FleetCache.Seen v) {
        if (!TransactionSynchronizationManager.isActualTransactionActive()) {
            fleet.ownChangeStarted(p.hostId());
            try {
                long after = claims.claimAt(request, p, v.version(), v.topology());
                fleet.claimed(request.vmId(), p, request.memoryMiB(), v.version(), after);
            } finally {
                fleet.ownChangeEnded(p.hostId());
            }
            return;
        }
        java.sql.Connection c = org.springframework.jdbc.datasource.DataSourceUtils.getConnection(dataSource);
        java.sql.Savepoint savepoint;
        try {
            savepoint = c.setSavepoint();
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("cannot set a savepoint for the placement claim", e);
        }
        long after;
        try {
            after = claims.claimAt(request, p, v.version(), v.topology());
            c.releaseSavepoint(savepoint);
        } catch (RuntimeException e) {
            try {
                c.rollback(savepoint);
            } catch (java.sql.SQLException rollback) {
                e.addSuppressed(rollback);
            }
            throw e;
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("cannot release the placement claim's savepoint", e);
        }
        afterCommit(p.hostId(), () -> fleet.claimed(request.vmId(), p, request.memoryMiB(), v.version(), after));
    }

    /** Applies our change to the fleet cache once the surrounding transaction commits. */
    private void afterCommit(UUID hostId, Runnable update) {
        if (TransactionSynchronizationManager.isSynchronizationActive()) {
            fleet.ownChangeStarted(hostId);
            TransactionSynchronizationManager.registerSynchronization(new TransactionSynchronization() {
                @Override
                public void afterCommit() {
                    update.run();
                }

                @Override
                public void afterCompletion(int status) {
                    fleet.ownChangeEnded(hostId);
                }
            });
        } else {
            fleet.invalidate(hostId);
        }
    }

    // Where placement time goes; the benchmark prints these.
    private <T> T stage(String name, java.util.function.Supplier<T> work) {
        return Timer.builder("gpucloud.placement.stage").tag("stage", name).register(meters).record(work);
    }

    private static String conflictReason(RuntimeException e) {
        String m = String.valueOf(e.getMessage());
        if (m.startsWith("host busy in this instance")) return "host-busy-here";
        if (m.startsWith("host busy")) return "host-locked";
        if (m.startsWith("host") && m.contains("no longer takes VMs")) return "host-not-ready";
        if (m.startsWith("host filled up")) return "host-filled";
        if (e instanceof DataIntegrityViolationException) return "constraint";
        return "claim-lost";
    }

    /** Why the candidate query found nothing, in numbers an operator can act on. */
    private String explainEmpty(PlacementRequest r) {
        return loader.explainNoCandidates(r);
    }

    /** What placement would choose now, without claiming anything (for operators and customers' previews). */
    public PlacementDecision preview(PlacementRequest request) {
        List<UUID> ids = loader.candidateHostIds(request, properties.candidateLimit());
        PlacementDecision decision = policy.decide(request, loader.load(ids, request.expectedDuration() != null).hosts(),
                fleet.emptyHosts(request));
        if (!decision.placed() && ids.isEmpty()) {
            return new PlacementDecision(List.of(), decision.rejections(), explainEmpty(request));
        }
        return decision;
    }

    /**
     * Loads every host's snapshot into the fleet cache now (it also does so by itself in the
     * background); returns how many hosts it read.
     */
    public int warmUp() {
        int total = 0;
        for (int n; (n = fleet.warm(500)) > 0; ) {
            total += n;
        }
        return total;
    }

    public void release(UUID vmId) {
        // Announced before the statement, so that a claim on the host that meets the release's new
        // version waits for its delta instead of re-reading the host.
        UUID ownHost = fleet.hostOfOwnClaim(vmId);
        if (ownHost != null) {
            fleet.ownChangeStarted(ownHost);
        }
        try {
            Optional<PlacementClaims.Released> r = claims.release(vmId);
            if (r.isEmpty()) {
                fleet.forget(vmId);
                return;
            }
            PlacementClaims.Released done = r.get();
            if (!TransactionSynchronizationManager.isActualTransactionActive()) {
                fleet.released(vmId, done.hostId(), done.before(), done.after());
            } else {
                afterCommit(done.hostId(), () -> fleet.released(vmId, done.hostId(), done.before(), done.after()));
            }
        } finally {
            if (ownHost != null) {
                fleet.ownChangeEnded(ownHost);
            }
        }
    }
}
