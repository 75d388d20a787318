package io.gpucloud.protocol;

/** Sent with the bootstrap token as bearer credential. Idempotent per host name. */
public record RegisterRequest(String workerVersion, String location, HostTopology topology) {
}
