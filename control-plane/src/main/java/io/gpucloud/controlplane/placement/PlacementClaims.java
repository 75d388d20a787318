package io.gpucloud.controlplane.placement;

import io.gpucloud.placement.Placement;
import io.gpucloud.placement.PlacementRequest;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

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

    /** The host changed since the snapshot the decision came from (GC002). Nothing was written. */
    static class StaleSnapshot extends RuntimeException {
        StaleSnapshot(String message) {
            super(message, null, false, false);
        }
    }

    /** A release that gave something back: the host and its allocation version before and after. */
    record Released(UUID hostId, long before, long after) {
    }

    private final JdbcClient jdbc;

    PlacementClaims(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    /**
     * One round trip: locks the host row (skipping it if another transaction holds it), refuses with
     * {@link StaleSnapshot} unless the host is still at the allocation and topology versions the
     * decision was based on, and claims. Returns the host's new allocation version. Runs in the
     * caller's transaction if there is one (under its savepoint), else as one statement on its own.
     * Not {@code @Transactional} on purpose: a conflict must only roll back the caller's savepoint,
     * not mark a surrounding workflow transaction rollback-only.
     */
    public long claimAt(PlacementRequest request, Placement p, long version, java.time.Instant topology) {
        Integer[] nodes = p.hugepagesByNode().entrySet().stream().filter(e -> e.getValue() > 0)
                .map(Map.Entry::getKey).sorted().toArray(Integer[]::new);
        Integer[] pages = java.util.Arrays.stream(nodes).map(p.hugepagesByNode()::get).toArray(Integer[]::new);
        java.sql.Timestamp topo = java.time.Instant.EPOCH.equals(topology) ? null : java.sql.Timestamp.from(topology);
        try {
            return jdbc.sql("SELECT claim_placement_at(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                    .params(version, topo, request.vmId(), p.hostId(), p.partitionRowId(),
                            p.gpuDeviceIds().toArray(Long[]::new), p.cpuIds().toArray(Integer[]::new), nodes, pages,
                            request.memoryMiB(), seconds(request))
                    .query(Long.class).single();
        } catch (org.springframework.dao.DataAccessException e) {
            if (e.getMostSpecificCause() instanceof java.sql.SQLException sql) {
                if ("GC001".equals(sql.getSQLState())) {
                    throw new ClaimConflict(sql.getMessage());
                }
                if ("GC002".equals(sql.getSQLState())) {
                    throw new StaleSnapshot(sql.getMessage());
                }
            }
            throw e;
        }
    }

    private static Long seconds(PlacementRequest r) {
        return r.expectedDuration() == null ? null : r.expectedDuration().toSeconds();
    }

    /**
     * Gives back everything a VM holds, in one round trip (one statement, or the caller's
     * transaction); safe to repeat. Empty if the VM held nothing.
     */
    public java.util.Optional<Released> release(UUID vm) {
        return jdbc.sql("SELECT host_id, old_version, new_version FROM release_placement_of(?)").param(vm)
                .query((rs, n) -> new Released(rs.getObject("host_id", UUID.class), rs.getLong("old_version"),
                        rs.getLong("new_version")))
                .optional();
    }
}
