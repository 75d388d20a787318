package io.gpucloud.worker.action;

/**
 * Stable error codes of failed jobs ({@code JobResult.errorCode}). The control plane decides on retry,
 * quarantine or operator attention by these, so they never change spelling.
 */
public final class ErrorCodes {

    /** The kernel answered EBUSY (a process or an old VM still holds the device), or a running domain uses it. */
    public static final String DEVICE_BUSY = "device-busy";
    /** No such PCI function on this host (wrong BDF, or it fell off the bus). */
    public static final String DEVICE_NOT_FOUND = "device-not-found";
    /** The function reset failed (no reset method, ioctl refused, ...). */
    public static final String RESET_FAILED = "reset-failed";
    /** The driver link did not end up where it should after drivers_probe. */
    public static final String BIND_FAILED = "bind-failed";
    /** A device of the IOMMU group is still on a host driver: QEMU would refuse the group. */
    public static final String IOMMU_GROUP_NOT_VIABLE = "iommu-group-not-viable";
    /** Any other sysfs write the kernel refused. */
    public static final String SYSFS_ERROR = "sysfs-error";
    /** An overlapping partition is active: another VM holds some of these GPUs. */
    public static final String PARTITION_CONFLICT = "partition-conflict";
    /** Fabric Manager does not know the partition (unknown id, or a member GPU is missing). */
    public static final String PARTITION_UNKNOWN = "partition-unknown";
    /** fmpm could not reach the Fabric Manager daemon. */
    public static final String FABRIC_MANAGER_DOWN = "fabric-manager-down";
    /** fmpm is not installed on this host. */
    public static final String FABRIC_MANAGER_MISSING = "fabric-manager-missing";
    /** Fabric Manager refused for another reason, or answered something unreadable. */
    public static final String FABRIC_MANAGER_ERROR = "fabric-manager-error";
    /** libvirt refused a call (define, start, shutdown, undefine, ...). */
    public static final String LIBVIRT_ERROR = "libvirt-error";
    /** The job needs a defined domain and there is none for the VM. */
    public static final String DOMAIN_NOT_DEFINED = "domain-not-defined";
    /** The job must not run while the VM's domain runs (deactivate, undefine). */
    public static final String DOMAIN_RUNNING = "domain-running";
    /** The VM's disk or its cloud-init seed could not be made (a boot image missing on the host, a full disk). */
    public static final String IMAGE_ERROR = "image-error";
    /** The domain spec cannot be rendered (e.g. more PCIe buses than a guest NUMA node has). */
    public static final String INVALID_DOMAIN_SPEC = "invalid-domain-spec";
    /** The job lacks its payload (no BDFs, no partition, no domain). */
    public static final String INVALID_JOB = "invalid-job";
    /** nvidia-smi does not see the GPU: it is not on the nvidia driver (bound to vfio-pci, passed through to a VM). */
    public static final String GPU_NOT_VISIBLE = "gpu-not-visible";
    /** The GPU has no MIG (nvidia-smi: "Not Supported"). */
    public static final String MIG_NOT_SUPPORTED = "mig-not-supported";
    /** nvidia-smi refused a MIG GPU-instance profile or its placement ("Insufficient Resources", "Invalid Argument"). */
    public static final String MIG_PROFILE_REJECTED = "mig-profile-rejected";
    /** nvidia-smi failed in another way. */
    public static final String NVIDIA_SMI_ERROR = "nvidia-smi-error";
    /** The worker has no tooling for the requested virtualization mode on this host. */
    public static final String UNSUPPORTED_MODE = "unsupported-mode";
    /** A bug or an unexpected local failure (disk full writing the topology file, ...). */
    public static final String INTERNAL_ERROR = "internal-error";

    private ErrorCodes() {
    }
}
