package io.gpucloud.worker.discovery;

import io.gpucloud.protocol.Cpu;
import io.gpucloud.protocol.DiscoveryProblem;
import io.gpucloud.protocol.NumaNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * NUMA nodes from {@code /sys/devices/system/node/node*} and logical CPUs from
 * {@code /sys/devices/system/cpu/cpu*}/topology. A CPU's node comes from the nodes' cpulists, never
 * from its number: hosts number CPUs interleaved (even on node 0, odd on node 1) or blocked.
 */
final class CpuScanner {

    private static final Pattern NODE = Pattern.compile("node\\d+");
    private static final Pattern CPU = Pattern.compile("cpu\\d+");
    /** A node's meminfo says "Node 0 MemTotal: ... kB", /proc/meminfo "MemTotal: ... kB". */
    private static final Pattern MEM_TOTAL = Pattern.compile("(?:Node\\s+\\d+\\s+)?MemTotal:\\s+(\\d+)\\s+kB");
    /** Below this share of the kernel's total, the nodes' counts are missing memory, not rounding it. */
    private static final double NODES_ACCOUNT_FOR_AT_LEAST = 0.9;

    private final SysfsFiles fs;
    private final List<DiscoveryProblem> problems;

    CpuScanner(SysfsFiles fs, List<DiscoveryProblem> problems) {
        this.fs = fs;
        this.problems = problems;
    }

    List<NumaNode> nodes() {
        Path base = fs.path("sys/devices/system/node");
        List<NumaNode> nodes = new ArrayList<>();
        for (String name : fs.list(base)) {
            if (!NODE.matcher(name).matches()) {
                continue;
            }
            Path dir = base.resolve(name);
            int id = Integer.parseInt(name.substring(4));
            List<Integer> cpus = fs.readCpuList(dir.resolve("cpulist")).orElse(List.of());
            long memMiB = memTotalMiB(dir.resolve("meminfo"));
            Path huge = dir.resolve("hugepages");
            int h1g = fs.readInt(huge.resolve("hugepages-1048576kB/nr_hugepages")).orElse(0);
            int h1gFree = fs.readInt(huge.resolve("hugepages-1048576kB/free_hugepages")).orElse(0);
            int h2m = fs.readInt(huge.resolve("hugepages-2048kB/nr_hugepages")).orElse(0);
            nodes.add(new NumaNode(id, cpus, memMiB, h1g, h1gFree, h2m));
        }
        nodes.sort(Comparator.comparingInt(NumaNode::id));
        if (nodes.isEmpty()) {
            problems.add(DiscoveryProblem.warning("numa-unreadable", "/sys/devices/system/node",
                    "no NUMA nodes found; CPUs and memory cannot be placed"));
        } else {
            checkNodesHoldTheMemory(nodes);
        }
        return nodes;
    }

    /**
     * VMs get memory per node, so memory the kernel counts but no node does is never offered. A real
     * H200 microVM showed 4,443 MiB in node 0 of 128,887 MiB in all; an operator should hear of that
     * rather than wonder why large VMs do not fit.
     */
    private void checkNodesHoldTheMemory(List<NumaNode> nodes) {
        long machineMiB = memTotalMiB(fs.path("proc/meminfo"));
        long nodesMiB = nodes.stream().mapToLong(NumaNode::memoryMiB).sum();
        if (machineMiB > 0 && nodesMiB < machineMiB * NODES_ACCOUNT_FOR_AT_LEAST) {
            problems.add(DiscoveryProblem.warning("memory-outside-nodes", "/proc/meminfo",
                    String.format(Locale.ROOT, "NUMA nodes count %,d MiB of the %,d MiB the kernel counts; "
                            + "only the nodes' memory is offered to VMs", nodesMiB, machineMiB)));
        }
    }

    List<Cpu> cpus(List<NumaNode> nodes) {
        Map<Integer, Integer> nodeOf = new HashMap<>();
        for (NumaNode n : nodes) {
            n.cpus().forEach(c -> nodeOf.put(c, n.id()));
        }
        Path base = fs.path("sys/devices/system/cpu");
        List<Cpu> cpus = new ArrayList<>();
        List<Integer> unplaced = new ArrayList<>();
        for (String name : fs.list(base)) {
            if (!CPU.matcher(name).matches()) {
                continue;
            }
            int id = Integer.parseInt(name.substring(3));
            Path topo = base.resolve(name).resolve("topology");
            Optional<Integer> socket = fs.readInt(topo.resolve("physical_package_id"));
            Optional<Integer> core = fs.readInt(topo.resolve("core_id"));
            Optional<List<Integer>> siblings = fs.readCpuList(topo.resolve("thread_siblings_list"));
            Integer node = nodeOf.get(id);
            if (socket.isEmpty() || core.isEmpty() || node == null) {
                unplaced.add(id); // offline CPUs have no topology and sit in no node
                continue;
            }
            cpus.add(new Cpu(id, socket.get(), core.get(), node, siblings.orElse(List.of(id))));
        }
        cpus.sort(Comparator.comparingInt(Cpu::id));
        if (!unplaced.isEmpty()) {
            unplaced.sort(null);
            problems.add(DiscoveryProblem.warning("cpu-topology-unknown", "cpus " + CpuList.format(unplaced),
                    "CPUs " + CpuList.format(unplaced) + " have no readable topology or NUMA node (offline?); not offered"));
        }
        return cpus;
    }

    private long memTotalMiB(Path meminfo) {
        Optional<String> text = fs.read(meminfo);
        if (text.isEmpty()) {
            return 0;
        }
        for (String line : text.get().split("\n")) {
            var m = MEM_TOTAL.matcher(line.strip());
            if (m.matches()) {
                return Long.parseLong(m.group(1)) / 1024;
            }
        }
        fs.garbled(meminfo, text.get().lines().findFirst().orElse(""));
        return 0;
    }
}
