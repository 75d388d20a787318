package io.gpucloud.worker.libvirt;

import java.util.List;
import java.util.UUID;

/**
 * A domain on the hypervisor.
 *
 * @param persistent  defined (survives shutdown) rather than transient
 * @param hostDevices host PCI addresses of its {@code <hostdev>}s, normalized ("0000:18:00.0")
 */
public record DomainStatus(UUID uuid, String name, DomainState state, boolean persistent, List<String> hostDevices) {
    public DomainStatus {
        hostDevices = List.copyOf(hostDevices);
    }
}
