package io.gpucloud.protocol.job;

/**
 * What a host worker can be asked to do. Every kind is idempotent: the worker checks the state
 * first, so a job delivered twice (lease expired, worker restarted) does no harm.
 */
public enum JobKind {
    /** FLR-reset each GPU through sysfs ({@code reset}). Payload: {@code bdfs}. */
    RESET_GPUS,
    /** {@code fmpm -a partitionId}; "already active" (exit 239) is success. Payload: {@code partitionId}. */
    ACTIVATE_PARTITION,
    /** Bind every listed device to vfio-pci and verify the driver link. Payload: {@code bdfs}. */
    BIND_VFIO,
    /** Render and define the libvirt domain (and write its NCCL topology file). Payload: {@code domain}. */
    DEFINE_DOMAIN,
    /** Start the defined domain; running already is success. Payload: {@code vmId}. */
    START_DOMAIN,
    /** Graceful shutdown, destroy after {@code timeoutSeconds}; not running is success. */
    STOP_DOMAIN,
    /** Undefine the domain; not defined is success. Payload: {@code vmId}. */
    UNDEFINE_DOMAIN,
    /** {@code fmpm -d partitionId}; "not active" (exit 238) is success. Payload: {@code partitionId}. */
    DEACTIVATE_PARTITION,
    /** Give GPUs back to the host driver (nvidia) between tenants. Payload: {@code bdfs}, {@code driver}. */
    REBIND_HOST_DRIVER,
    /**
     * Put the listed GPUs into a virtualization mode (passthrough, MIG with its instances, HAMi-core's
     * config); a GPU already in the wanted state is left as it is. Payload: {@code virtualization}
     * (mode and params), {@code bdfs} (the host's GPUs).
     */
    SET_VIRTUALIZATION_MODE,
    /**
     * Run the sub-jobs in {@code steps} in order, stopping at the first that fails (a VM's create:
     * RESET_GPUS → ACTIVATE_PARTITION → BIND_VFIO → DEFINE_DOMAIN → START_DOMAIN, which need no decision
     * of the control plane in between). Idempotent because every sub-job is: a re-delivered sequence
     * runs again from the first step and finds the finished ones done. The result lists every step of
     * every sub-job (names prefixed with the sub-job's kind, e.g. {@code "BIND_VFIO: bind ..."}), the
     * facts of all of them, and on failure the failing sub-job's {@code error}/{@code errorCode} and the
     * facts {@value JobResult#FAILED_KIND} (its kind) and {@value JobResult#COMPLETED_KINDS}. Sub-jobs
     * are never sequences themselves.
     */
    SEQUENCE,
    /**
     * Like {@link #SEQUENCE}, but every sub-job runs even after one fails: a VM's teardown (STOP_DOMAIN →
     * UNDEFINE_DOMAIN → DEACTIVATE_PARTITION if partitioned → REBIND_HOST_DRIVER → RESET_GPUS) must get
     * as far as it can, and the control plane quarantines the GPUs of a teardown that failed anywhere.
     * On failure, {@code error}/{@code errorCode} and {@value JobResult#FAILED_KIND} are those of the
     * first sub-job that failed, and {@value JobResult#FAILED_KINDS} names every one that did.
     */
    TEARDOWN;

    /** Whether this kind runs the sub-jobs in {@code steps} (and is never a sub-job itself). */
    public boolean runsSteps() {
        return this == SEQUENCE || this == TEARDOWN;
    }
}
