package io.gpucloud.protocol;

import java.util.List;
import java.util.UUID;

/**
 * What a worker finds on its host after it (re)registered: observations only, the worker changed
 * nothing. The control plane compares them with the VMs it placed there, queues the jobs that
 * restore what should exist (after a reboot Fabric Manager has forgotten its partitions and the
 * GPUs are back on their host driver) and reports what nothing owns.
 *
 * @param domains          every libvirt domain on the host, running or only defined
 * @param activePartitions active Fabric Manager partitions; null when fmpm could not say (see problems)
 * @param devicesOnVfio    PCI functions bound to vfio-pci now
 * @param problems         what could not be observed, for humans
 */
public record HostStateReport(List<Domain> domains, List<Integer> activePartitions, List<String> devicesOnVfio,
                              List<String> problems) {
    public HostStateReport {
        domains = domains == null ? List.of() : List.copyOf(domains);
        activePartitions = activePartitions == null ? null : List.copyOf(activePartitions);
        devicesOnVfio = devicesOnVfio == null ? List.of() : List.copyOf(devicesOnVfio);
        problems = problems == null ? List.of() : List.copyOf(problems);
    }

    /**
     * @param state  as {@code virsh domstate} spells it ("running", "shut off", ...)
     * @param active whether QEMU runs (and so holds the domain's VFIO groups)
     */
    public record Domain(UUID uuid, String name, String state, boolean active) {
    }
}
