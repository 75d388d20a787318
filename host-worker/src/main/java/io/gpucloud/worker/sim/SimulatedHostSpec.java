package io.gpucloud.worker.sim;

import io.gpucloud.protocol.Platform;
import io.gpucloud.worker.nvidiasmi.ModuleIdSpelling;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * What kind of server {@link SimulatedHost} builds, and which real-world mess it has. Start from a
 * factory ({@link #hgxH100(String)}, ...) and add the mess with the {@code with...} methods.
 *
 * @param hostName             hostname the simulated kernel reports
 * @param board                board to build (NO_GPU and PCIE_GPU included)
 * @param cpuNumbering         how logical CPUs are numbered across the two sockets
 * @param numaUnknown          every PCI function reports numa_node -1 (firmware without _PXM)
 * @param iommuOff             no IOMMU groups at all
 * @param gpuAudioFunctions    each GPU has an audio function .1 in its IOMMU group
 * @param sharedNvswitchGroup  all NVSwitches in one IOMMU group (switch without ACS)
 * @param missingModuleIds     GPUs that fell off the bus (degraded board), by module id
 * @param pciDomain            PCI domain of every device (0 on most hosts)
 * @param fabricManagerPresent fmpm is installed and Fabric Manager runs
 * @param nvidiaDriverLoaded   nvidia.ko is loaded and GPUs are bound to nvidia; otherwise they sit on vfio-pci
 * @param moduleIdSpelling     how nvidia-smi prints module ids
 * @param gpuDeviceId          PCI device id of the GPUs, null for the board's usual one (H200 ships as 2335 or 2336)
 */
public record SimulatedHostSpec(
        String hostName,
        Platform board,
        CpuNumbering cpuNumbering,
        boolean numaUnknown,
        boolean iommuOff,
        boolean gpuAudioFunctions,
        boolean sharedNvswitchGroup,
        Set<Integer> missingModuleIds,
        int pciDomain,
        boolean fabricManagerPresent,
        boolean nvidiaDriverLoaded,
        ModuleIdSpelling moduleIdSpelling,
        String gpuDeviceId) {

    /** Interleaved: even CPUs on socket/node 0, odd on 1 (common on HGX). Blocked: first half on node 0. */
    public enum CpuNumbering {
        INTERLEAVED, BLOCKED
    }

    public SimulatedHostSpec {
        Objects.requireNonNull(hostName);
        Objects.requireNonNull(board);
        Objects.requireNonNull(cpuNumbering);
        Objects.requireNonNull(moduleIdSpelling);
        missingModuleIds = Set.copyOf(missingModuleIds);
        if (pciDomain < 0 || pciDomain > 0xffff) {
            throw new IllegalArgumentException("PCI domain out of range: " + pciDomain);
        }
    }

    public static SimulatedHostSpec hgxH100(String hostName) {
        return hgx(hostName, Platform.HGX_H100_8);
    }

    public static SimulatedHostSpec hgxH200(String hostName) {
        return hgx(hostName, Platform.HGX_H200_8);
    }

    public static SimulatedHostSpec hgxB200(String hostName) {
        return hgx(hostName, Platform.HGX_B200_8);
    }

    /** One HGX A100 8-GPU board (module ids 1-8). */
    public static SimulatedHostSpec hgxA100(String hostName) {
        return hgx(hostName, Platform.HGX_A100_8);
    }

    /** Two HGX A100 boards joined into a 16-GPU system (module ids 1-16, 12 NVSwitches). */
    public static SimulatedHostSpec hgxA100x16(String hostName) {
        return hgx(hostName, Platform.HGX_A100_16);
    }

    /** Four PCIe GPUs (L40S, not in the catalog, so model "unknown") on their own root ports, no NVSwitch. */
    public static SimulatedHostSpec pcieGpuHost(String hostName) {
        return new SimulatedHostSpec(hostName, Platform.PCIE_GPU, CpuNumbering.BLOCKED, false, false, false, false,
                Set.of(), 0, false, true, ModuleIdSpelling.MODULE_ID, null);
    }

    /** A storage/CPU server: NIC and NVMe, no GPU. */
    public static SimulatedHostSpec noGpu(String hostName) {
        return new SimulatedHostSpec(hostName, Platform.NO_GPU, CpuNumbering.BLOCKED, false, false, false, false,
                Set.of(), 0, false, false, ModuleIdSpelling.MODULE_ID, null);
    }

    private static SimulatedHostSpec hgx(String hostName, Platform board) {
        return new SimulatedHostSpec(hostName, board, CpuNumbering.INTERLEAVED, false, false, false, false, Set.of(), 0,
                true, true, ModuleIdSpelling.MODULE_ID, null);
    }

    public SimulatedHostSpec withCpuNumbering(CpuNumbering numbering) {
        return new SimulatedHostSpec(hostName, board, numbering, numaUnknown, iommuOff, gpuAudioFunctions,
                sharedNvswitchGroup, missingModuleIds, pciDomain, fabricManagerPresent, nvidiaDriverLoaded,
                moduleIdSpelling, gpuDeviceId);
    }

    public SimulatedHostSpec withNumaUnknown() {
        return new SimulatedHostSpec(hostName, board, cpuNumbering, true, iommuOff, gpuAudioFunctions,
                sharedNvswitchGroup, missingModuleIds, pciDomain, fabricManagerPresent, nvidiaDriverLoaded,
                moduleIdSpelling, gpuDeviceId);
    }

    public SimulatedHostSpec withIommuOff() {
        return new SimulatedHostSpec(hostName, board, cpuNumbering, numaUnknown, true, gpuAudioFunctions,
                sharedNvswitchGroup, missingModuleIds, pciDomain, fabricManagerPresent, nvidiaDriverLoaded,
                moduleIdSpelling, gpuDeviceId);
    }

    public SimulatedHostSpec withGpuAudioFunctions() {
        return new SimulatedHostSpec(hostName, board, cpuNumbering, numaUnknown, iommuOff, true,
                sharedNvswitchGroup, missingModuleIds, pciDomain, fabricManagerPresent, nvidiaDriverLoaded,
                moduleIdSpelling, gpuDeviceId);
    }

    public SimulatedHostSpec withSharedNvswitchGroup() {
        return new SimulatedHostSpec(hostName, board, cpuNumbering, numaUnknown, iommuOff, gpuAudioFunctions,
                true, missingModuleIds, pciDomain, fabricManagerPresent, nvidiaDriverLoaded,
                moduleIdSpelling, gpuDeviceId);
    }

    public SimulatedHostSpec withMissingModuleIds(Integer... moduleIds) {
        Set<Integer> missing = new TreeSet<>(missingModuleIds);
        missing.addAll(Set.of(moduleIds));
        return new SimulatedHostSpec(hostName, board, cpuNumbering, numaUnknown, iommuOff, gpuAudioFunctions,
                sharedNvswitchGroup, missing, pciDomain, fabricManagerPresent, nvidiaDriverLoaded,
                moduleIdSpelling, gpuDeviceId);
    }

    public SimulatedHostSpec withPciDomain(int domain) {
        return new SimulatedHostSpec(hostName, board, cpuNumbering, numaUnknown, iommuOff, gpuAudioFunctions,
                sharedNvswitchGroup, missingModuleIds, domain, fabricManagerPresent, nvidiaDriverLoaded,
                moduleIdSpelling, gpuDeviceId);
    }

    public SimulatedHostSpec withFabricManager(boolean present) {
        return new SimulatedHostSpec(hostName, board, cpuNumbering, numaUnknown, iommuOff, gpuAudioFunctions,
                sharedNvswitchGroup, missingModuleIds, pciDomain, present, nvidiaDriverLoaded,
                moduleIdSpelling, gpuDeviceId);
    }

    public SimulatedHostSpec withNvidiaDriverLoaded(boolean loaded) {
        return new SimulatedHostSpec(hostName, board, cpuNumbering, numaUnknown, iommuOff, gpuAudioFunctions,
                sharedNvswitchGroup, missingModuleIds, pciDomain, fabricManagerPresent, loaded,
                moduleIdSpelling, gpuDeviceId);
    }

    public SimulatedHostSpec withModuleIdSpelling(ModuleIdSpelling spelling) {
        return new SimulatedHostSpec(hostName, board, cpuNumbering, numaUnknown, iommuOff, gpuAudioFunctions,
                sharedNvswitchGroup, missingModuleIds, pciDomain, fabricManagerPresent, nvidiaDriverLoaded,
                spelling, gpuDeviceId);
    }

    public SimulatedHostSpec withGpuDeviceId(String deviceId) {
        return new SimulatedHostSpec(hostName, board, cpuNumbering, numaUnknown, iommuOff, gpuAudioFunctions,
                sharedNvswitchGroup, missingModuleIds, pciDomain, fabricManagerPresent, nvidiaDriverLoaded,
                moduleIdSpelling, deviceId);
    }
}
