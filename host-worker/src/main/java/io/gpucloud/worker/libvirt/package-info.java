/**
 * The VM side of a GPU host: {@link io.gpucloud.worker.libvirt.DomainXmlBuilder} renders a
 * {@code DomainSpec} into libvirt domain XML whose NUMA and PCIe layout mirrors the host (NVIDIA's HGX VM
 * guide), {@link io.gpucloud.worker.libvirt.NcclTopologyWriter} writes the matching NCCL topology file with
 * the guest's bus ids, and {@link io.gpucloud.worker.libvirt.Hypervisor} defines, starts and stops domains
 * ({@link io.gpucloud.worker.libvirt.LibvirtHypervisor}: libvirt-java on {@code qemu:///system}, or on
 * libvirt's built-in {@code test:///default} driver in tests and the demo).
 */
package io.gpucloud.worker.libvirt;
