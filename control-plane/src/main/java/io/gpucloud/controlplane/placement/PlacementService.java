package io.gpucloud.controlplane.placement;

import io.gpucloud.placement.HostSnapshot;
import io.gpucloud.placement.Placement;
import io.gpucloud.placement.PlacementDecision;
import io.gpucloud.placement.PlacementPolicy;
import io.gpucloud.placement.PlacementRequest;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Filter → score → claim. The policy ranks a snapshot of plausible hosts; the claim walks the
 * ranking until one conditional write set succeeds. A lost race costs a retry, never a double
 * allocation.
 */
@Service
public class PlacementService {

    private static final Logger log = LoggerFactory.getLogger(PlacementService.class);

    private final SnapshotLoader loader;
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

    public PlacementService(SnapshotLoader loader, PlacementClaims claims, PlacementPolicy policy,
                            PlacementProperties properties, MeterRegistry meters, TransactionTemplate tx,
                            javax.sql.DataSource dataSource) {
        this.dataSource = dataSource;
        this.loader = loader;
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
        readVersions.get().clear();
        int lost = 0;
        String explanation = "";
        for (int round = 0; round < properties.maxRounds(); round++) {
            PlacementDecision decision = decide(request, properties.candidateLimit());
            if (!decision.placed() && decision.rejections().values().stream().mapToInt(Integer::intValue).sum()
                    >= properties.candidateLimit()) {
                // Counters said these hosts had room, but none had a fitting unit (free GPUs that are not
                // a free partition): look wider before calling the fleet full.
                decision = decide(request, properties.candidateLimit() * 16);
            }
            List<UUID> ids = decision.candidates().stream().map(Placement::hostId).toList();
            if (!decision.placed()) {
                explanation = decision.explanation().isEmpty() ? explainEmpty(request) : decision.explanation();
                break;
            }
            int attempts = Math.min(properties.maxClaimAttempts(), decision.candidates().size());
            for (int i = 0; i < attempts; i++) {
                Placement chosen = decision.candidates().get(i);
                try {
                    Placement p = stage("claim", () -> claimOnHost(request, chosen));
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

    private PlacementDecision decide(PlacementRequest request, int limit) {
        List<UUID> ids = stage("candidates", () -> loader.candidateHostIds(request, limit));
        if (ids.isEmpty()) {
            return new PlacementDecision(List.of(), java.util.Map.of(), "");
        }
        SnapshotLoader.Loaded loaded = stage("snapshot", () -> loader.load(ids, request.expectedDuration() != null));
        PlacementDecision decision = stage("decide", () -> policy.decide(request, loaded.hosts()));
        decision.candidates().forEach(c -> readVersions.get().put(c.hostId(), loaded.versions().get(c.hostId())));
        return decision;
    }

    // allocation version of each candidate host as the snapshot saw it, per placing thread
    private final ThreadLocal<java.util.Map<UUID, Long>> readVersions = ThreadLocal.withInitial(java.util.HashMap::new);

    /**
     * The snapshot chose the host; the claim decides the exact devices, CPUs and hugepages again
     * under the host's row lock from a fresh read of that one host. Concurrent placements on one
     * host therefore queue for milliseconds instead of colliding on the same CPUs, and a host
     * that filled up meanwhile is a conflict, retried elsewhere.
     */
    private Placement claimOnHost(PlacementRequest request, Placement chosen) {
        if (!org.springframework.transaction.support.TransactionSynchronizationManager.isActualTransactionActive()) {
            return tx.execute(status -> claimLocked(request, chosen));
        }
        // Inside a workflow label: claim under a savepoint, so a lost race rolls back the claim alone
        // (PostgreSQL would otherwise abort the label's whole transaction).
        java.sql.Connection c = org.springframework.jdbc.datasource.DataSourceUtils.getConnection(dataSource);
        java.sql.Savepoint savepoint;
        try {
            savepoint = c.setSavepoint();
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("cannot set a savepoint for the placement claim", e);
        }
        try {
            Placement p = claimLocked(request, chosen);
            c.releaseSavepoint(savepoint);
            return p;
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
    }

    private Placement claimLocked(PlacementRequest request, Placement chosen) {
        UUID hostId = chosen.hostId();
        Long seen = readVersions.get().remove(hostId);
        Long now = loader.lockReadyHost(hostId).orElseThrow(
                () -> new PlacementClaims.ClaimConflict("host busy or no longer ready"));
        Placement p = chosen;
        if (!now.equals(seen)) {
            // something was placed or released here since the snapshot: decide again on fresh rows
            PlacementDecision fresh = policy.decide(request,
                    loader.load(List.of(hostId), request.expectedDuration() != null).hosts());
            if (!fresh.placed()) {
                throw new PlacementClaims.ClaimConflict("host filled up: " + fresh.explanation());
            }
            p = fresh.candidates().get(0);
        }
        claims.claim(request, p);
        return p;
    }

    // Where placement time goes; the benchmark prints these.
    private <T> T stage(String name, java.util.function.Supplier<T> work) {
        return Timer.builder("gpucloud.placement.stage").tag("stage", name).register(meters).record(work);
    }

    private static String conflictReason(RuntimeException e) {
        String m = String.valueOf(e.getMessage());
        if (m.startsWith("host busy")) return "host-locked";
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
        PlacementDecision decision = policy.decide(request, loader.load(ids, request.expectedDuration() != null).hosts());
        if (!decision.placed() && ids.isEmpty()) {
            return new PlacementDecision(List.of(), decision.rejections(), explainEmpty(request));
        }
        return decision;
    }

    public void release(UUID vmId) {
        claims.release(vmId);
    }
}
