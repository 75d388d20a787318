package io.gpucloud.protocol;

/**
 * @param hostState               the state the control plane holds for the host now
 * @param reportTopology          true when the control plane wants a fresh topology report
 */
public record HeartbeatResponse(String hostState, boolean reportTopology) {
}
