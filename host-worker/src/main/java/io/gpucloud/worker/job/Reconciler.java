package io.gpucloud.worker.job;

import io.gpucloud.protocol.FabricPartition;
import io.gpucloud.worker.fabric.FabricManagerClient;
import io.gpucloud.worker.fabric.FabricManagerException;
import io.gpucloud.worker.libvirt.DomainStatus;
import io.gpucloud.worker.libvirt.HypervisorException;
import io.gpucloud.worker.pci.Bdf;
import io.gpucloud.worker.vfio.PciDriverBinder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Observes the host's actual state (never changes it): libvirt domains, active fabric partitions and
 * devices on vfio-pci. After a host reboot Fabric Manager has forgotten its partitions while libvirt still
 * lists the defined domains; comparing this snapshot with the control plane's records tells which
 * partitions to re-activate (DESIGN.md §4) and which domains to start or clean up.
 */
public final class Reconciler {

    private final HostActions actions;

    Reconciler(HostActions actions) {
        this.actions = actions;
    }

    public HostSnapshot snapshot() {
        List<String> problems = new ArrayList<>();
        List<DomainStatus> domains = List.of();
        try {
            domains = actions.hypervisor().listDomains();
        } catch (HypervisorException e) {
            problems.add("libvirt: " + e.getMessage());
        }
        Optional<Set<Integer>> partitions = Optional.empty();
        try {
            Set<Integer> active = new TreeSet<>();
            for (FabricPartition p : new FabricManagerClient(actions.fmpm()).list().partitions()) {
                if (p.active()) {
                    active.add(p.partitionId());
                }
            }
            partitions = Optional.of(active);
        } catch (FabricManagerException e) {
            problems.add("fabric manager (" + e.reason() + "): " + e.getMessage());
        }
        List<String> onVfio = actions.sysfs().list("/sys/bus/pci/drivers/" + PciDriverBinder.VFIO_PCI).stream()
                .filter(Bdf::isBdf).sorted().toList();
        return new HostSnapshot(domains, partitions, onVfio, problems);
    }
}
