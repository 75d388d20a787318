package io.gpucloud.worker.discovery;

import io.gpucloud.protocol.DeviceKind;
import io.gpucloud.protocol.DiscoveryProblem;
import io.gpucloud.protocol.FabricMode;
import io.gpucloud.protocol.FabricPartition;
import io.gpucloud.protocol.PciDevice;
import io.gpucloud.protocol.Platform;
import io.gpucloud.worker.catalog.PartitionSpec;
import io.gpucloud.worker.catalog.PartitionTable;
import io.gpucloud.worker.catalog.PlatformCatalog;
import io.gpucloud.worker.catalog.PlatformRule;
import io.gpucloud.worker.fabric.FabricManagerClient;
import io.gpucloud.worker.fabric.FabricManagerException;
import io.gpucloud.worker.fabric.Fmpm;
import io.gpucloud.worker.fabric.PartitionListing;
import io.gpucloud.worker.nvidiasmi.ModuleIdReader;
import io.gpucloud.worker.nvidiasmi.NvidiaSmi;
import io.gpucloud.worker.nvidiasmi.NvidiaSmiException;
import io.gpucloud.worker.pci.Bdf;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Turns the PCI devices into a board: which platform, which module id each GPU has, which fabric
 * partitions exist and which of them can be used.
 *
 * <p>A partition is {@code available} when every one of its module ids belongs to a GPU that is present
 * and whose module id is known: only then can the control plane activate it and pass through the right
 * GPUs. So on a degraded board the partitions of the missing GPU are unavailable, and so is everything
 * while module ids are unknown. Partition ids are Fabric Manager's and are never renumbered.
 */
final class BoardResolver {

    record Board(Platform platform, String gpuModel, FabricMode fabricMode, String fabricSource,
                 List<PciDevice> devices, List<FabricPartition> partitions) {
    }

    private final PlatformCatalog catalog;
    private final NvidiaSmi nvidiaSmi;
    private final Fmpm fmpm;
    private final FabricMode hgxFabricMode;
    private final List<DiscoveryProblem> problems;

    BoardResolver(PlatformCatalog catalog, NvidiaSmi nvidiaSmi, Fmpm fmpm, FabricMode hgxFabricMode,
                  List<DiscoveryProblem> problems) {
        this.catalog = catalog;
        this.nvidiaSmi = nvidiaSmi;
        this.fmpm = fmpm;
        this.hgxFabricMode = hgxFabricMode;
        this.problems = problems;
    }

    Board resolve(String hostName, List<PciDevice> devices, Map<String, Integer> knownModuleIds) {
        List<PciDevice> gpus = devices.stream().filter(d -> d.kind() == DeviceKind.GPU).toList();
        if (gpus.isEmpty()) {
            return new Board(Platform.NO_GPU, null, FabricMode.NONE, "none", devices, List.of());
        }
        String gpuModel = dominantModel(gpus);
        Optional<PlatformRule> rule = recognize(gpus, gpuModel, devices);
        Platform platform = rule.map(PlatformRule::platform).orElse(Platform.PCIE_GPU);
        boolean hgx = rule.isPresent();
        FabricMode mode = hgx ? hgxFabricMode : FabricMode.NONE;

        PartitionListing listing = hgx && mode == FabricMode.SHARED_NVSWITCH ? listPartitions() : null;
        Map<String, Integer> moduleIds = moduleIds(gpus, listing, knownModuleIds, hgx);
        List<PciDevice> withIds = devices.stream()
                .map(d -> moduleIds.containsKey(d.bdf()) ? d.withModuleId(moduleIds.get(d.bdf())) : d)
                .toList();
        if (!hgx) {
            return new Board(platform, gpuModel, mode, "none", withIds, List.of());
        }

        Set<Integer> present = usableModuleIds(moduleIds);
        PartitionTable table = catalog.tableFor(platform, present).orElseThrow();
        reportMissingGpus(hostName, rule.get(), table, gpus.size(), moduleIds, present);
        if (mode == FabricMode.FULL_PASSTHROUGH) {
            return new Board(platform, gpuModel, mode, "none", withIds, List.of());
        }
        if (listing != null) {
            return new Board(platform, gpuModel, mode, "fmpm", withIds, fromFabricManager(listing, table, present));
        }
        List<FabricPartition> builtin = table.partitions().stream()
                .map(p -> new FabricPartition(p.id(), p.gpuCount(), p.modules(), false, present.containsAll(p.modules())))
                .toList();
        return new Board(platform, gpuModel, mode, "builtin", withIds, builtin);
    }

    private String dominantModel(List<PciDevice> gpus) {
        Map<String, Long> counts = gpus.stream()
                .collect(Collectors.groupingBy(g -> Optional.ofNullable(g.model()).orElse("unknown"),
                        TreeMap::new, Collectors.counting()));
        String model = counts.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
        if (counts.size() > 1) {
            problems.add(DiscoveryProblem.warning("gpu-models-mixed", model,
                    "GPUs of several models: " + counts + "; the host is treated as a PCIe GPU host"));
        }
        return model;
    }

    private Optional<PlatformRule> recognize(List<PciDevice> gpus, String gpuModel, List<PciDevice> devices) {
        if (gpus.stream().anyMatch(g -> !gpuModel.equals(g.model()))) {
            return Optional.empty();
        }
        Map<String, Integer> nvswitches = new HashMap<>();
        devices.stream().filter(d -> d.kind() == DeviceKind.NVSWITCH && d.model() != null)
                .forEach(d -> nvswitches.merge(d.model(), 1, Integer::sum));
        Optional<PlatformRule> rule = catalog.match(gpuModel, gpus.size(), nvswitches);
        if (rule.isEmpty() && catalog.isBoardGpu(gpuModel)) {
            problems.add(DiscoveryProblem.warning("platform-unrecognized", gpuModel,
                    count(gpus.size(), gpuModel + " GPU") + " and " + nvswitchesInWords(nvswitches)
                            + " match no HGX board; treated as a PCIe GPU host without fabric"));
        }
        return rule;
    }

    private PartitionListing listPartitions() {
        try {
            return new FabricManagerClient(fmpm).list();
        } catch (FabricManagerException e) {
            String because = "partitions come from the built-in table, none is known to be active";
            switch (e.reason()) {
                case NOT_INSTALLED -> problems.add(DiscoveryProblem.info("fabric-manager-absent", "fmpm",
                        "fmpm is not installed on this host (Fabric Manager may run in a service VM); " + because));
                case NOT_RUNNING -> problems.add(DiscoveryProblem.warning("fabric-manager-unreachable", "fmpm",
                        e.getMessage() + "; " + because));
                default -> problems.add(DiscoveryProblem.warning("fabric-manager-failed", "fmpm",
                        e.getMessage() + "; " + because));
            }
            return null;
        }
    }

    /** Module id per GPU BDF: live sources first, then what the control plane persisted. */
    private Map<String, Integer> moduleIds(List<PciDevice> gpus, PartitionListing listing, Map<String, Integer> known,
                                           boolean hgx) {
        Map<String, Integer> live = new HashMap<>();
        if (gpus.stream().anyMatch(g -> "nvidia".equals(g.driver()))) {
            try {
                ModuleIdReader.Query query = new ModuleIdReader(nvidiaSmi).query();
                live.putAll(query.moduleIds());
                reportPassedThroughGpus(query.virtualizationModes());
            } catch (NvidiaSmiException e) {
                problems.add(DiscoveryProblem.warning("nvidia-smi-failed", "nvidia-smi",
                        "nvidia-smi -q failed (exit " + e.exitCode() + "): " + e.getMessage()));
            }
        }
        if (listing != null) {
            listing.gpuBdfByModule().forEach((module, bdf) -> live.putIfAbsent(bdf, module));
        }
        Map<String, Integer> persisted = normalizeKnown(known);

        Map<String, Integer> ids = new LinkedHashMap<>();
        for (PciDevice gpu : gpus) {
            Integer fromHardware = live.get(gpu.bdf());
            Integer remembered = persisted.get(gpu.bdf());
            if (fromHardware != null && remembered != null && !fromHardware.equals(remembered)) {
                problems.add(DiscoveryProblem.warning("module-id-changed", gpu.bdf(), "the hardware reports module "
                        + fromHardware + " for " + gpu.bdf() + " but the control plane remembers " + remembered
                        + " (board or riser swapped?); using the hardware's"));
            }
            Integer id = fromHardware != null ? fromHardware : remembered;
            if (id != null) {
                ids.put(gpu.bdf(), id);
            } else if (hgx) {
                problems.add(DiscoveryProblem.warning("module-id-unknown", gpu.bdf(), "module id of GPU " + gpu.bdf()
                        + " is unknown: it is bound to " + Optional.ofNullable(gpu.driver()).orElse("no driver")
                        + " and the control plane has none on record; bind it to nvidia once so nvidia-smi can "
                        + "read it. Its partitions stay unavailable until then"));
            }
        }
        return ids;
    }

    private Map<String, Integer> normalizeKnown(Map<String, Integer> known) {
        Map<String, Integer> out = new HashMap<>();
        known.forEach((key, id) -> {
            Optional<String> bdf = Bdf.parse(key);
            if (bdf.isEmpty() || id == null) {
                problems.add(DiscoveryProblem.warning("module-id-record-invalid", String.valueOf(key),
                        "ignoring persisted module id " + id + " for \"" + key + "\""));
            } else {
                out.put(bdf.get(), id);
            }
        });
        return out;
    }

    /** Module ids that identify exactly one present GPU; a duplicated id identifies none. */
    private Set<Integer> usableModuleIds(Map<String, Integer> moduleIds) {
        Map<Integer, List<String>> byId = moduleIds.entrySet().stream().collect(Collectors.groupingBy(
                Map.Entry::getValue, TreeMap::new, Collectors.mapping(Map.Entry::getKey, Collectors.toList())));
        Set<Integer> usable = new TreeSet<>();
        byId.forEach((id, bdfs) -> {
            if (bdfs.size() == 1) {
                usable.add(id);
            } else {
                problems.add(DiscoveryProblem.error("module-id-duplicate", "module " + id,
                        "GPUs " + String.join(", ", bdfs) + " all claim module id " + id
                                + "; partitions using it are unavailable"));
            }
        });
        return usable;
    }

    private void reportMissingGpus(String hostName, PlatformRule rule, PartitionTable table, int gpuCount,
                                   Map<String, Integer> moduleIds, Set<Integer> present) {
        Set<Integer> expected = table.moduleIds();
        present.stream().filter(id -> !expected.contains(id)).forEach(id -> problems.add(DiscoveryProblem.warning(
                "module-id-unexpected", "module " + id,
                "module id " + id + " is not part of this board's partition table " + expected)));
        if (gpuCount >= rule.boardGpus()) {
            return;
        }
        boolean allKnown = moduleIds.size() == gpuCount;
        if (allKnown) {
            Set<Integer> missing = new TreeSet<>(expected);
            missing.removeAll(present);
            String ids = missing.stream().map(String::valueOf).collect(Collectors.joining(","));
            problems.add(DiscoveryProblem.warning("gpu-missing", "module " + ids,
                    gpuCount + " of " + rule.boardGpus() + " GPUs present; missing module id(s) " + ids
                            + "; partitions containing them are unavailable (ids are not renumbered)"));
        } else {
            problems.add(DiscoveryProblem.warning("gpu-missing", hostName,
                    gpuCount + " of " + rule.boardGpus() + " GPUs present; which module ids are missing is unknown "
                            + "until every GPU's module id is known"));
        }
    }

    /**
     * Fabric Manager's live list. It omits partitions of missing GPUs; those ids are added back from the
     * built-in table as unavailable so the control plane sees the same ids whatever the source.
     */
    private List<FabricPartition> fromFabricManager(PartitionListing listing, PartitionTable table,
                                                    Set<Integer> present) {
        Map<Integer, FabricPartition> byId = new TreeMap<>();
        for (FabricPartition p : listing.partitions()) {
            byId.put(p.partitionId(), new FabricPartition(p.partitionId(), p.gpuCount(), p.moduleIds(), p.active(),
                    present.containsAll(p.moduleIds())));
        }
        Set<Integer> absent = new TreeSet<>(table.moduleIds());
        absent.removeAll(present);
        for (PartitionSpec p : table.partitions()) {
            if (!byId.containsKey(p.id()) && p.modules().stream().anyMatch(absent::contains)) {
                byId.put(p.id(), new FabricPartition(p.id(), p.gpuCount(), p.modules(), false, false));
            }
        }
        return List.copyOf(byId.values());
    }

    /**
     * A GPU that nvidia-smi says was passed through to this machine means the worker runs inside a VM
     * (a cloud instance, a test VM): its GPUs reach VMs of their own only through a virtual IOMMU and
     * nested virtualization, which is why such a host usually shows no IOMMU groups either.
     */
    private void reportPassedThroughGpus(Map<String, String> virtualizationModes) {
        List<String> passedThrough = virtualizationModes.entrySet().stream()
                .filter(e -> e.getValue().equalsIgnoreCase("Pass-Through")).map(Map.Entry::getKey).sorted().toList();
        if (!passedThrough.isEmpty()) {
            problems.add(DiscoveryProblem.warning("host-is-a-vm", String.join(",", passedThrough),
                    "nvidia-smi reports " + count(passedThrough.size(), "GPU") + " (" + String.join(", ", passedThrough)
                            + ") passed through to this machine: it is itself a virtual machine, and can give its "
                            + "GPUs to VMs only with a virtual IOMMU and nested virtualization"));
        }
    }

    /** "1 H200-SXM-141GB GPU", "7 H100-SXM5-80GB GPUs". */
    private static String count(int n, String what) {
        return n + " " + what + (n == 1 ? "" : "s");
    }

    /** "no NVSwitch", "3 NVSwitch-Gen3", in model order so the message is stable. */
    private static String nvswitchesInWords(Map<String, Integer> nvswitches) {
        if (nvswitches.isEmpty()) {
            return "no NVSwitch";
        }
        return new TreeMap<>(nvswitches).entrySet().stream().map(e -> e.getValue() + " " + e.getKey())
                .collect(Collectors.joining(", "));
    }
}
