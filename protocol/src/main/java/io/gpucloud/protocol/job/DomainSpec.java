package io.gpucloud.protocol.job;

import java.util.List;
import java.util.UUID;

/**
 * Everything the worker needs to render a domain whose NUMA and PCIe layout mirrors the host.
 *
 * @param vmId          domain UUID
 * @param name          domain name (unique on the host)
 * @param memoryMiB     guest memory, backed by 1 GiB hugepages
 * @param vcpus         vCPU → host CPU pinning, in vCPU order
 * @param cells         one guest NUMA cell per host NUMA node the VM uses
 * @param devices       every host PCI function passed through (GPUs, their IOMMU-group siblings, NICs)
 * @param platform      host platform (e.g. HGX_B200_8: GPUs behind root ports)
 * @param bootImage     path of the boot disk image on the host, or null for none
 * @param largeBarMode  how to treat large BARs: "default", or "x-no-mmap" for older QEMU
 * @param guestInit     what cloud-init should configure in the guest (the worker's NoCloud seed), or null for no seed
 */
public record DomainSpec(UUID vmId, String name, long memoryMiB, List<VcpuPin> vcpus, List<NumaCell> cells,
                         List<HostDevice> devices, String platform, String bootImage, String largeBarMode,
                         GuestInit guestInit) {
    public DomainSpec {
        vcpus = List.copyOf(vcpus);
        cells = List.copyOf(cells);
        devices = List.copyOf(devices);
    }

    /** A spec without guest initialization data. */
    public DomainSpec(UUID vmId, String name, long memoryMiB, List<VcpuPin> vcpus, List<NumaCell> cells,
                      List<HostDevice> devices, String platform, String bootImage, String largeBarMode) {
        this(vmId, name, memoryMiB, vcpus, cells, devices, platform, bootImage, largeBarMode, null);
    }

    /**
     * Cloud-init data for a NoCloud seed: the guest's hostname, the customer's user data and the
     * private address the control plane allocated (with its subnet's prefix length). The worker writes
     * them into a NoCloud seed volume the guest boots with.
     *
     * @param hostname      the VM's name
     * @param userData      the customer's cloud-init user data, or null
     * @param privateIpv4   the allocated address, or null when none is allocated
     * @param prefixLength  prefix length of the location's subnet (16)
     * @param sshPublicKeys the OpenSSH public keys to install for the image's login user
     */
    public record GuestInit(String hostname, String userData, String privateIpv4, int prefixLength,
                            List<String> sshPublicKeys) {
        public GuestInit {
            sshPublicKeys = sshPublicKeys == null ? List.of() : List.copyOf(sshPublicKeys);
        }
    }

    /**
     * @param vcpu        guest vCPU number
     * @param hostCpu     host logical CPU it is pinned to
     * @param hostNode    host NUMA node of that CPU
     * @param hostSocket  host socket of that CPU
     * @param hostCore    host core id of that CPU (siblings share it)
     */
    public record VcpuPin(int vcpu, int hostCpu, int hostNode, int hostSocket, int hostCore) {
    }

    /**
     * @param guestCell  guest NUMA cell id (0..)
     * @param hostNode   host NUMA node it mirrors
     * @param memoryMiB  memory of the cell, from the host node's hugepages
     */
    public record NumaCell(int guestCell, int hostNode, long memoryMiB) {
    }

    /**
     * @param bdf        host PCI address
     * @param kind       gpu, nic, nvme, other
     * @param hostNode   host NUMA node, or null
     * @param switchBdf  upstream port of the host PCIe switch above it, or null (mirrored as a virtual switch)
     * @param gpuModel   GPU model for the NCCL topology file (null for non-GPUs)
     * @param moduleId   GPU module id (NVLink peers), or null
     */
    public record HostDevice(String bdf, String kind, Integer hostNode, String switchBdf, String gpuModel,
                             Integer moduleId) {
    }
}
