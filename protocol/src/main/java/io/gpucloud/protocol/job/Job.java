package io.gpucloud.protocol.job;

import java.util.List;
import java.util.Map;
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
 * @param virtualization the mode to put the GPUs in (SET_VIRTUALIZATION_MODE)
 * @param steps          the sub-jobs to run in order (SEQUENCE); empty for every other kind
 */
public record Job(UUID id, JobKind kind, UUID vmId, int attempt, List<String> bdfs, Integer partitionId,
                  String driver, Integer timeoutSeconds, DomainSpec domain, Virtualization virtualization,
                  List<Job> steps) {
    public Job {
        bdfs = bdfs == null ? List.of() : List.copyOf(bdfs);
        steps = steps == null ? List.of() : List.copyOf(steps);
    }

    /** A job that is no sequence. */
    public Job(UUID id, JobKind kind, UUID vmId, int attempt, List<String> bdfs, Integer partitionId,
               String driver, Integer timeoutSeconds, DomainSpec domain, Virtualization virtualization) {
        this(id, kind, vmId, attempt, bdfs, partitionId, driver, timeoutSeconds, domain, virtualization, null);
    }

    /** A job without a virtualization payload (every kind but SET_VIRTUALIZATION_MODE and SEQUENCE). */
    public Job(UUID id, JobKind kind, UUID vmId, int attempt, List<String> bdfs, Integer partitionId,
               String driver, Integer timeoutSeconds, DomainSpec domain) {
        this(id, kind, vmId, attempt, bdfs, partitionId, driver, timeoutSeconds, domain, null, null);
    }

    /** A {@link JobKind#SEQUENCE} of {@code steps} for one VM. */
    public static Job sequence(UUID id, UUID vmId, int attempt, List<Job> steps) {
        return new Job(id, JobKind.SEQUENCE, vmId, attempt, null, null, null, null, null, null, steps);
    }

    /** A {@link JobKind#TEARDOWN} of {@code steps} for one VM: every step runs, even after one fails. */
    public static Job teardown(UUID id, UUID vmId, int attempt, List<Job> steps) {
        return new Job(id, JobKind.TEARDOWN, vmId, attempt, null, null, null, null, null, null, steps);
    }

    /** The same job as delivered for the {@code attempt}-th time (its sub-jobs too). */
    public Job withAttempt(int attempt) {
        return new Job(id, kind, vmId, attempt, bdfs, partitionId, driver, timeoutSeconds, domain, virtualization,
                steps.stream().map(s -> s.withAttempt(attempt)).toList());
    }

    /**
     * A GPU virtualization mode and its parameters, as the control plane validated them against the
     * mode catalog ({@code catalog/virtualization-modes.json}).
     *
     * @param mode   passthrough, mig, hami, cambricon_dsmlu or cambricon_env_share
     * @param params e.g. {@code {"profiles": [19, 19, 9]}} for mig, {@code {"deviceSplitCount": 10, ...}} for hami
     */
    public record Virtualization(String mode, Map<String, Object> params) {
        public Virtualization {
            params = params == null ? Map.of() : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(params));
        }
    }
}
