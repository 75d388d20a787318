package io.gpucloud.protocol;

import java.util.List;
import java.util.UUID;

/**
 * The control plane's answer to a {@link HostStateReport}.
 *
 * @param restoring VMs whose workflows now restore them; their jobs arrive through the normal job queue
 * @param orphans   domains and active partitions no VM owns (codes "orphan-domain", "orphan-partition");
 *                  reported to operators and left alone, never destroyed
 */
public record ReconcileResponse(List<UUID> restoring, List<DiscoveryProblem> orphans) {
    public ReconcileResponse {
        restoring = restoring == null ? List.of() : List.copyOf(restoring);
        orphans = orphans == null ? List.of() : List.copyOf(orphans);
    }
}
