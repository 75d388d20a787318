package io.gpucloud.protocol.job;

import java.util.List;
import java.util.UUID;

/**
 * One unit of host work handed to a worker under a lease.
 *
 * @param id             job id; results are reported against it
 * @param kind           what to do
 * @param vmId           the VM it is for (also names the libvirt domain)
 * @param attempt        1 on first delivery, higher when re-offered after a lease expired
 * @param bdfs           PCI functions the job acts on (RESET_GPUS, BIND_VFIO, REBIND_HOST_DRIVER)
 * @param partitionId    Fabric Manager partition (ACTIVATE/DEACTIVATE_PARTITION)
 * @param driver         host driver to return devices to (REBIND_HOST_DRIVER), usually "nvidia"
 * @param timeoutSeconds graceful shutdown budget before destroy (STOP_DOMAIN)
 * @param domain         what to define (DEFINE_DOMAIN)
 */
public record Job(UUID id, JobKind kind, UUID vmId, int attempt, List<String> bdfs, Integer partitionId,
                  String driver, Integer timeoutSeconds, DomainSpec domain) {
    public Job {
        bdfs = bdfs == null ? List.of() : List.copyOf(bdfs);
    }
}
