package io.gpucloud.protocol;

import java.time.Instant;
import java.util.List;

/**
 * Periodic proof of life from a worker.
 *
 * @param bootImages the boot images this host holds, as absolute paths (what a VM's disk can be made
 *                   from); null when the worker does not say (an older worker, or one that cannot tell),
 *                   which leaves the last report in force
 */
public record Heartbeat(Instant sentAt, String workerVersion, List<String> bootImages) {

    public Heartbeat(Instant sentAt, String workerVersion) {
        this(sentAt, workerVersion, null);
    }
}
