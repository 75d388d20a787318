package io.gpucloud.worker.discovery;

import io.gpucloud.protocol.Cpu;
import io.gpucloud.protocol.DeviceKind;
import io.gpucloud.protocol.DiscoveryProblem;
import io.gpucloud.protocol.FabricMode;
import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.NumaNode;
import io.gpucloud.protocol.PciDevice;
import io.gpucloud.worker.catalog.PciCatalog;
import io.gpucloud.worker.catalog.PlatformCatalog;
import io.gpucloud.worker.fabric.Fmpm;
import io.gpucloud.worker.nvidiasmi.NvidiaSmi;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Discovers one Linux host the way the kernel exposes it: sysfs and procfs below a root directory
 * ("/" on a real host, a temporary tree for {@code SimulatedHost}), plus {@code nvidia-smi -q} for GPU
 * module ids and {@code fmpm -l} for live fabric partitions. Nothing odd on the host throws: each
 * oddity becomes a {@link DiscoveryProblem} in the result and discovery carries on.
 *
 * <p>What is reported in {@link HostTopology#pciDevices()}:
 * <ul>
 *   <li>every function the catalog calls a GPU, NVSwitch, NIC or NVMe controller;</li>
 *   <li>every function sharing an IOMMU group with one of those (a GPU's audio function, say), as
 *       {@code OTHER} unless the catalog knows it: the whole group is passed through together, so the
 *       control plane must see all of it;</li>
 *   <li>every bridge above any of the above (root ports, switch upstream and downstream ports), so the
 *       guest's PCIe tree can mirror the host's.</li>
 * </ul>
 * Everything else (chipset functions, management NICs, the BMC's VGA) is left out.
 *
 * <p>PCIe switches are recognized by position, not by id: walking the bridges above a function from the
 * root port down, PCIe alternates root port → switch upstream port → downstream port → upstream port...,
 * so the bridges at odd depth are switch upstream ports. {@code switchBdf} is the nearest such port above
 * the function. This holds for any switch vendor; the catalog's PEX890xx entry only names the model.
 *
 * <p>GPU module ids come from nvidia-smi while GPUs are bound to {@code nvidia}, from Fabric Manager's
 * pciBusId where it fills it in (A100), and otherwise from the ids the control plane persisted earlier.
 * Never from bus order: board vendors wire module ids in their own order.
 */
public final class HostDiscovery {

    private final Path root;
    private final NvidiaSmi nvidiaSmi;
    private final Fmpm fmpm;
    private final PciCatalog pciCatalog;
    private final PlatformCatalog platformCatalog;
    private final FabricMode hgxFabricMode;

    /**
     * @param root      directory holding {@code sys/} and {@code proc/}
     * @param nvidiaSmi the nvidia-smi to ask for module ids
     * @param fmpm      the fmpm to ask for live partitions
     */
    public HostDiscovery(Path root, NvidiaSmi nvidiaSmi, Fmpm fmpm) {
        this(root, nvidiaSmi, fmpm, PciCatalog.builtin(), PlatformCatalog.builtin(), FabricMode.SHARED_NVSWITCH);
    }

    private HostDiscovery(Path root, NvidiaSmi nvidiaSmi, Fmpm fmpm, PciCatalog pciCatalog,
                          PlatformCatalog platformCatalog, FabricMode hgxFabricMode) {
        this.root = Objects.requireNonNull(root);
        this.nvidiaSmi = Objects.requireNonNull(nvidiaSmi);
        this.fmpm = Objects.requireNonNull(fmpm);
        this.pciCatalog = Objects.requireNonNull(pciCatalog);
        this.platformCatalog = Objects.requireNonNull(platformCatalog);
        this.hgxFabricMode = Objects.requireNonNull(hgxFabricMode);
    }

    /** This machine: "/", nvidia-smi and fmpm from PATH. */
    public static HostDiscovery ofThisHost() {
        return new HostDiscovery(Path.of("/"), NvidiaSmi.system(), Fmpm.system());
    }

    /**
     * How HGX boards are run: {@code SHARED_NVSWITCH} (the default; Fabric Manager partitions per VM) or
     * {@code FULL_PASSTHROUGH} (the whole board to one VM; no partitions are reported).
     */
    public HostDiscovery withFabricMode(FabricMode mode) {
        if (mode == FabricMode.NONE) {
            throw new IllegalArgumentException("NONE is what non-HGX hosts get; choose how HGX boards are shared");
        }
        return new HostDiscovery(root, nvidiaSmi, fmpm, pciCatalog, platformCatalog, mode);
    }

    /** Other catalogs, e.g. an operator's file with a device id the built-in one lacks. */
    public HostDiscovery withCatalogs(PciCatalog pci, PlatformCatalog platforms) {
        return new HostDiscovery(root, nvidiaSmi, fmpm, pci, platforms, hgxFabricMode);
    }

    public Path root() {
        return root;
    }

    public HostTopology discover() {
        return discover(Map.of());
    }

    /**
     * @param knownModuleIds BDF → module id the control plane persisted from an earlier discovery; used
     *                       for GPUs nvidia-smi cannot see (bound to vfio-pci). Any domain width is accepted.
     */
    public HostTopology discover(Map<String, Integer> knownModuleIds) {
        Map<String, Integer> known = knownModuleIds == null ? Map.of() : knownModuleIds;
        List<DiscoveryProblem> problems = new ArrayList<>();
        SysfsFiles fs = new SysfsFiles(root, problems);

        String hostName = fs.read(fs.path("proc/sys/kernel/hostname")).filter(s -> !s.isEmpty()).orElseGet(() -> {
            problems.add(DiscoveryProblem.warning("hostname-unknown", "/proc/sys/kernel/hostname",
                    "hostname could not be read"));
            return "unknown";
        });

        CpuScanner cpuScanner = new CpuScanner(fs, problems);
        List<NumaNode> nodes = cpuScanner.nodes();
        List<Cpu> cpus = cpuScanner.cpus(nodes);

        IommuGroups groups = IommuGroups.read(fs);
        if (groups.isEmpty()) {
            problems.add(DiscoveryProblem.error("iommu-off", "/sys/kernel/iommu_groups",
                    "no IOMMU groups: the IOMMU is off (enable VT-d/AMD-Vi in firmware and boot with "
                            + "intel_iommu=on or amd_iommu=on), so no device can be passed through to a VM"));
        }

        PciScanner scanner = new PciScanner(fs, pciCatalog);
        List<PciDevice> devices = new PciTree(scanner, groups, problems, nodes.size()).describe(scanner.scan());

        BoardResolver.Board board = new BoardResolver(platformCatalog, nvidiaSmi, fmpm, hgxFabricMode, problems)
                .resolve(hostName, devices, known);

        return new HostTopology(hostName, board.platform(), board.gpuModel(), board.fabricMode(), board.fabricSource(),
                !groups.isEmpty(), nodes, cpus, board.devices(), board.partitions(), problems);
    }

    static boolean isEndpointKind(DeviceKind kind) {
        return kind == DeviceKind.GPU || kind == DeviceKind.NVSWITCH || kind == DeviceKind.NIC
                || kind == DeviceKind.NVME;
    }
}
