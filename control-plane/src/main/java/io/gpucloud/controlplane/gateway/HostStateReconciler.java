package io.gpucloud.controlplane.gateway;

import io.gpucloud.protocol.HostStateReport;
import io.gpucloud.protocol.ReconcileResponse;
import java.util.UUID;

/**
 * Answers a worker's report of what its host runs after a (re)registration. Implemented where the VM
 * workflows live, so the gateway does not depend on them.
 */
public interface HostStateReconciler {
    ReconcileResponse reconcile(UUID hostId, HostStateReport report);
}
