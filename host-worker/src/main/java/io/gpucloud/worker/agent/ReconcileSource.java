package io.gpucloud.worker.agent;

import io.gpucloud.protocol.HostStateReport;

/** Observes what the host runs now (domains, active partitions, devices on vfio-pci) without changing it. */
@FunctionalInterface
public interface ReconcileSource {
    HostStateReport observe();
}
