package io.gpucloud.controlplane.placement;

import io.gpucloud.placement.Placement;
import io.gpucloud.placement.PlacementRequest;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Transactional;

/**
 * Makes a placement true in the database, or fails without a trace. Every write is conditional
 * ({@code WHERE vm_id IS NULL}) and its row count is checked: device rows are the single source
 * of truth, so two VMs racing for overlapping partitions collide on the GPUs they share. Counters
 * are caches guarded by CHECK constraints; a violation means the snapshot was stale.
 */
@Component
class PlacementClaims {

    /** The snapshot was stale: someone else got there first. Nothing was written. */
    static class ClaimConflict extends RuntimeException {
        ClaimConflict(String message) {
            super(message, null, false, false);
        }
    }

    private final JdbcClient jdbc;

    PlacementClaims(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    /**
     * Runs inside the caller's transaction, which holds the host's row lock. One round trip. Not
     * {@code @Transactional} on purpose: a conflict must only roll back the caller's savepoint, not
     * mark a surrounding workflow transaction rollback-only.
     */
    public void claim(PlacementRequest request, Placement p) {
        Integer[] nodes = p.hugepagesByNode().entrySet().stream().filter(e -> e.getValue() > 0)
                .map(Map.Entry::getKey).sorted().toArray(Integer[]::new);
        Integer[] pages = java.util.Arrays.stream(nodes).map(p.hugepagesByNode()::get).toArray(Integer[]::new);
        try {
            jdbc.sql("SELECT claim_placement(?, ?, ?, ?, ?, ?, ?, ?, ?)")
                    .params(request.vmId(), p.hostId(), p.partitionRowId(), p.gpuDeviceIds().toArray(Long[]::new),
                            p.cpuIds().toArray(Integer[]::new), nodes, pages, request.memoryMiB(), seconds(request))
                    .query((rs, n) -> 1).single();
        } catch (org.springframework.dao.DataAccessException e) {
            if (e.getMostSpecificCause() instanceof java.sql.SQLException sql && "GC001".equals(sql.getSQLState())) {
                throw new ClaimConflict(sql.getMessage());
            }
            throw e;
        }
    }

    private static Long seconds(PlacementRequest r) {
        return r.expectedDuration() == null ? null : r.expectedDuration().toSeconds();
    }

    /** Gives back everything a VM holds, in one transaction; safe to repeat. */
    @Transactional
    public void release(UUID vm) {
        UUID host = jdbc.sql("SELECT host_id FROM vm WHERE id = ? FOR UPDATE").param(vm).query(UUID.class)
                .optional().orElse(null);
        if (host == null) {
            return;
        }
        // Same lock order as a claim (host row first), so a release and a claim on one host never deadlock.
        jdbc.sql("SELECT id FROM host WHERE id = ? FOR NO KEY UPDATE").param(host).query(UUID.class).single();
        jdbc.sql("SELECT release_placement(?, ?)").params(vm, host).query((rs, n) -> 1).single();
    }
}
