package io.gpucloud.protocol;

import java.time.Instant;

/** Periodic proof of life from a worker. */
public record Heartbeat(Instant sentAt, String workerVersion) {
}
