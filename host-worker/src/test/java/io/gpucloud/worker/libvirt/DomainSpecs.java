package io.gpucloud.worker.libvirt;

import io.gpucloud.protocol.Cpu;
import io.gpucloud.protocol.DeviceKind;
import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.PciDevice;
import io.gpucloud.protocol.job.DomainSpec;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.UUID;

/**
 * Domain specs the way the control plane builds them, from a topology the production discovery read off
 * a simulated host: the GPUs, every function of their IOMMU groups, the NICs behind the same PCIe switch,
 * whole cores (both hyperthreads) from the GPUs' NUMA nodes, memory from those nodes.
 */
public final class DomainSpecs {

    private DomainSpecs() {
    }

    public static DomainSpec forGpus(HostTopology topo, String name, List<String> gpuBdfs, int vcpusPerGpu,
                                     long memoryPerGpuMiB) {
        return forGpus(topo, UUID.nameUUIDFromBytes((topo.hostName() + "/" + name).getBytes()), name, gpuBdfs,
                vcpusPerGpu, memoryPerGpuMiB, null, "default");
    }

    public static DomainSpec forGpus(HostTopology topo, UUID vmId, String name, List<String> gpuBdfs, int vcpusPerGpu,
                                     long memoryPerGpuMiB, String bootImage, String largeBarMode) {
        List<PciDevice> gpus = gpuBdfs.stream().map(b -> device(topo, b)).toList();
        List<DomainSpec.HostDevice> devices = new ArrayList<>();
        for (PciDevice gpu : gpus) {
            for (PciDevice d : topo.pciDevices()) {
                boolean sibling = gpu.iommuGroup() != null && Objects.equals(d.iommuGroup(), gpu.iommuGroup());
                boolean nicBeside = d.kind() == DeviceKind.NIC && gpu.switchBdf() != null
                        && gpu.switchBdf().equals(d.switchBdf());
                if ((sibling || nicBeside || d.bdf().equals(gpu.bdf()))
                        && devices.stream().noneMatch(h -> h.bdf().equals(d.bdf()))) {
                    devices.add(new DomainSpec.HostDevice(d.bdf(), kind(d), d.numaNode(), d.switchBdf(),
                            d.kind() == DeviceKind.GPU ? d.model() : null, d.moduleId()));
                }
            }
        }
        devices.sort(Comparator.comparing(DomainSpec.HostDevice::bdf));
        List<Integer> nodes = gpus.stream().map(PciDevice::numaNode).distinct().sorted().toList();
        List<DomainSpec.NumaCell> cells = new ArrayList<>();
        List<DomainSpec.VcpuPin> vcpus = new ArrayList<>();
        for (int cell = 0; cell < nodes.size(); cell++) {
            int node = nodes.get(cell);
            long gpusHere = gpus.stream().filter(g -> g.numaNode() == node).count();
            cells.add(new DomainSpec.NumaCell(cell, node, gpusHere * memoryPerGpuMiB));
            // whole cores, skipping the node's first core (left to the host), siblings next to each other
            List<Cpu> cores = topo.cpus().stream().filter(c -> c.numaNode() == node && c.siblings().stream().mapToInt(Integer::intValue).min().orElse(c.id()) == c.id())
                    .sorted(Comparator.comparingInt(Cpu::core)).skip(1).toList();
            int want = (int) gpusHere * vcpusPerGpu;
            for (Cpu core : cores) {
                for (int sibling : core.siblings().stream().sorted().toList()) {
                    if (want-- > 0) {
                        Cpu c = topo.cpus().stream().filter(x -> x.id() == sibling).findFirst().orElseThrow();
                        vcpus.add(new DomainSpec.VcpuPin(vcpus.size(), c.id(), c.numaNode(), c.socket(), c.core()));
                    }
                }
                if (want <= 0) {
                    break;
                }
            }
        }
        long memory = cells.stream().mapToLong(DomainSpec.NumaCell::memoryMiB).sum();
        return new DomainSpec(vmId, name, memory, vcpus, cells, devices, topo.platform().name(), bootImage,
                largeBarMode);
    }

    public static PciDevice device(HostTopology topo, String bdf) {
        return topo.pciDevices().stream().filter(d -> d.bdf().equals(bdf)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no " + bdf + " on " + topo.hostName()));
    }

    private static String kind(PciDevice d) {
        return switch (d.kind()) {
            case GPU -> "gpu";
            case NIC -> "nic";
            case NVME -> "nvme";
            default -> d.kind().name().toLowerCase(Locale.ROOT);
        };
    }
}
