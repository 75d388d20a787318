package io.gpucloud.worker.libvirt;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * The domain operations the worker needs. Domains are addressed by UUID (= the VM id), which libvirt
 * keeps unique; names are only for people. Implementations are thread-safe.
 */
public interface Hypervisor extends AutoCloseable {

    /** The connection URI ("qemu:///system", "test:///default"). */
    String uri();

    /** Defines (or redefines: same UUID and name updates the persistent config) a domain from XML. */
    DomainStatus define(String xml) throws HypervisorException;

    Optional<DomainStatus> find(UUID id) throws HypervisorException;

    /** State of the domain, {@link DomainState#NOT_DEFINED} when there is none. */
    default DomainState state(UUID id) throws HypervisorException {
        return find(id).map(DomainStatus::state).orElse(DomainState.NOT_DEFINED);
    }

    /** Boots a defined, shut-off domain. */
    void start(UUID id) throws HypervisorException;

    /** Asks the guest to shut down (ACPI); returns at once, the domain stops when the guest is done. */
    void shutdown(UUID id) throws HypervisorException;

    /** Pulls the plug. */
    void destroy(UUID id) throws HypervisorException;

    /** Removes the persistent definition (and its UEFI variable store where the driver keeps one). */
    void undefine(UUID id) throws HypervisorException;

    /** Every domain, running and defined, in name order. */
    List<DomainStatus> listDomains() throws HypervisorException;

    @Override
    void close();
}
