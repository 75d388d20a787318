package io.gpucloud.worker.job;

import io.gpucloud.protocol.HostStateReport;
import io.gpucloud.worker.libvirt.DomainStatus;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What the host runs right now, for reconciling the control plane's view after a worker or host restart.
 *
 * @param domains           every libvirt domain, running or defined (on the test driver this includes
 *                          its built-in "test" domain)
 * @param activePartitions  active Fabric Manager partitions; empty Optional when fmpm could not say (see problems)
 * @param devicesOnVfio     PCI functions bound to vfio-pci now
 * @param problems          what could not be observed, for humans
 */
public record HostSnapshot(List<DomainStatus> domains, Optional<Set<Integer>> activePartitions,
                           List<String> devicesOnVfio, List<String> problems) {
    public HostSnapshot {
        domains = List.copyOf(domains);
        activePartitions = activePartitions.map(Set::copyOf);
        devicesOnVfio = List.copyOf(devicesOnVfio);
        problems = List.copyOf(problems);
    }

    /** The snapshot as the worker protocol carries it to the control plane. */
    public HostStateReport toReport() {
        return new HostStateReport(
                domains.stream().map(d -> new HostStateReport.Domain(d.uuid(), d.name(), d.state().virshName(),
                        d.state().isActive())).toList(),
                activePartitions.map(p -> p.stream().sorted().toList()).orElse(null), devicesOnVfio, problems);
    }
}
