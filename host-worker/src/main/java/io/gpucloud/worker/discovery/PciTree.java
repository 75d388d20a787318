package io.gpucloud.worker.discovery;

import io.gpucloud.protocol.DeviceKind;
import io.gpucloud.protocol.DiscoveryProblem;
import io.gpucloud.protocol.PciDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Chooses the functions worth reporting (see {@link HostDiscovery}) and places each in the PCIe tree:
 * parent, root port, nearest switch, IOMMU group, NUMA node, driver, BARs.
 */
final class PciTree {

    private final PciScanner scanner;
    private final IommuGroups groups;
    private final List<DiscoveryProblem> problems;
    private final int numaNodeCount;

    PciTree(PciScanner scanner, IommuGroups groups, List<DiscoveryProblem> problems, int numaNodeCount) {
        this.scanner = scanner;
        this.groups = groups;
        this.problems = problems;
        this.numaNodeCount = numaNodeCount;
    }

    List<PciDevice> describe(List<PciFunction> functions) {
        Map<String, PciFunction> byBdf = PciScanner.byBdf(functions);
        Set<String> chosen = new TreeSet<>();
        for (PciFunction f : functions) {
            if (f.type() != null && HostDiscovery.isEndpointKind(f.type().kind())) {
                chosen.add(f.bdf());
                groups.groupOf(f.bdf()).ifPresent(g -> groups.members(g).stream()
                        .filter(byBdf::containsKey).forEach(chosen::add));
            }
        }
        for (String bdf : List.copyOf(chosen)) {
            byBdf.get(bdf).ancestors().stream().filter(byBdf::containsKey).forEach(chosen::add);
        }
        List<PciDevice> devices = new ArrayList<>(chosen.size());
        for (String bdf : chosen) {
            devices.add(describe(byBdf.get(bdf), byBdf));
        }
        reportSharedGroups(devices);
        return devices;
    }

    private PciDevice describe(PciFunction f, Map<String, PciFunction> byBdf) {
        DeviceKind kind = f.type() == null ? DeviceKind.OTHER : f.type().kind();
        String model = f.type() == null ? null : f.type().model();

        List<String> bridges = f.ancestors().stream()
                .filter(a -> byBdf.containsKey(a) && byBdf.get(a).isBridge())
                .toList();
        String parent = f.ancestors().isEmpty() ? null : f.ancestors().get(f.ancestors().size() - 1);
        String rootPort = bridges.isEmpty() ? null : bridges.get(0);
        // Bridges alternate root port (depth 0) → switch upstream port (odd depth) → downstream port (even).
        String switchUpstream = null;
        for (int depth = 1; depth < bridges.size(); depth += 2) {
            switchUpstream = bridges.get(depth);
        }

        Integer numa = scanner.numaNode(f).orElse(null);
        if (numa != null && numa < 0) {
            numa = null;
            if (kind != DeviceKind.BRIDGE) {
                String msg = f.bdf() + " reports NUMA node -1 (firmware did not describe its locality); "
                        + "placement cannot keep it close to its CPUs";
                problems.add(numaNodeCount > 1
                        ? DiscoveryProblem.warning("numa-node-unknown", f.bdf(), msg)
                        : DiscoveryProblem.info("numa-node-unknown", f.bdf(), msg + " (single-node host: harmless)"));
            }
        }
        return new PciDevice(f.bdf(), f.vendor(), f.device(), f.classCode(), kind, model, numa,
                groups.groupOf(f.bdf()).orElse(null), parent, switchUpstream, rootPort,
                scanner.driver(f).orElse(null), null, scanner.barSizes(f));
    }

    private void reportSharedGroups(List<PciDevice> devices) {
        Set<Integer> seen = new TreeSet<>();
        for (PciDevice d : devices) {
            if (d.iommuGroup() == null || d.kind() == DeviceKind.BRIDGE || !seen.add(d.iommuGroup())) {
                continue;
            }
            List<String> members = groups.members(d.iommuGroup());
            if (members.size() > 1) {
                problems.add(DiscoveryProblem.info("iommu-group-shared", "iommu group " + d.iommuGroup(),
                        "IOMMU group " + d.iommuGroup() + " holds " + String.join(", ", members)
                                + "; they can only be passed through together"));
            }
        }
    }
}
