package io.gpucloud.protocol;

import java.util.List;

/**
 * Everything a host worker learned about its server in one discovery pass. It is what the worker
 * sends at registration and on every re-report; the control plane reconciles its rows against it.
 *
 * @param hostName           the server's hostname (unique in the fleet)
 * @param platform           recognized board, see {@link Platform}
 * @param gpuModel           catalog model of the host's GPUs ("H100-SXM5-80GB", "unknown", null if none)
 * @param fabricMode         how the NVSwitch fabric is shared, see {@link FabricMode}
 * @param fabricSource       where the partition list came from: "fmpm" (live) or "builtin" (DESIGN.md tables) or "none"
 * @param passthroughCapable false when the IOMMU is off (no device has an IOMMU group)
 * @param numaNodes          NUMA nodes with their CPUs and memory
 * @param cpus               logical CPUs with socket/core/sibling topology
 * @param pciDevices         every PCI function the worker cares about (GPUs, NVSwitches, NICs, NVMe, bridges)
 * @param partitions         fabric partitions (empty when the host has no fabric)
 * @param problems           what looked wrong, reported instead of crashing
 */
public record HostTopology(
        String hostName,
        Platform platform,
        String gpuModel,
        FabricMode fabricMode,
        String fabricSource,
        boolean passthroughCapable,
        List<NumaNode> numaNodes,
        List<Cpu> cpus,
        List<PciDevice> pciDevices,
        List<FabricPartition> partitions,
        List<DiscoveryProblem> problems) {

    public HostTopology {
        numaNodes = List.copyOf(numaNodes);
        cpus = List.copyOf(cpus);
        pciDevices = List.copyOf(pciDevices);
        partitions = List.copyOf(partitions);
        problems = List.copyOf(problems);
    }

    public long gpuCount() {
        return pciDevices.stream().filter(d -> d.kind() == DeviceKind.GPU).count();
    }
}
