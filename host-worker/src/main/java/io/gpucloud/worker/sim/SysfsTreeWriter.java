package io.gpucloud.worker.sim;

import io.gpucloud.worker.discovery.CpuList;
import io.gpucloud.worker.sim.BoardLayout.Bar;
import io.gpucloud.worker.sim.BoardLayout.Dev;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes a {@link BoardLayout} as the Linux kernel would expose it: real device directories under
 * {@code sys/devices/pci*}, {@code sys/bus/pci/devices/*} as relative symlinks into them, {@code driver}
 * and {@code iommu_group} links, the IOMMU group directories, NUMA nodes, CPU topology and hostname; plus
 * the attributes driver binding writes to ({@code driver_override}, {@code reset}, {@code drivers_probe},
 * each driver's {@code bind}/{@code unbind} and device entries), which {@link SimulatedKernel} acts on.
 */
final class SysfsTreeWriter {

    private static final String ZERO_RESOURCE = "0x0000000000000000 0x0000000000000000 0x0000000000000000\n";

    private final Path root;
    private final BoardLayout layout;
    private final SimulatedHostSpec spec;
    private long nextMmio = 0x200000000000L;

    SysfsTreeWriter(Path root, BoardLayout layout) {
        this.root = root;
        this.layout = layout;
        this.spec = layout.spec;
    }

    void write() {
        try {
            file("proc/sys/kernel/hostname", spec.hostName() + "\n");
            modules();
            pci();
            numaAndCpus();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write simulated host under " + root, e);
        }
    }

    private void modules() throws IOException {
        dir("sys/module/vfio_pci");
        if (spec.nvidiaDriverLoaded()) {
            dir("sys/module/nvidia");
        }
    }

    private void pci() throws IOException {
        Path sys = root.resolve("sys");
        Path busDevices = dir("sys/bus/pci/devices");
        file("sys/bus/pci/drivers_probe", "");
        driverDir(root.resolve("sys/bus/pci/drivers/vfio-pci")); // sys/module/vfio_pci is always loaded
        Path groupsDir = dir("sys/kernel/iommu_groups");
        Map<String, Integer> groups = new LinkedHashMap<>();
        Map<String, Path> driverDirs = new TreeMap<>();
        for (Dev d : layout.devices) {
            Path devDir = Files.createDirectories(sys.resolve(d.sysPath()));
            file(devDir.resolve("vendor"), "0x" + d.vendor + "\n");
            file(devDir.resolve("device"), "0x" + d.device + "\n");
            file(devDir.resolve("class"), "0x" + d.classCode + "\n");
            file(devDir.resolve("numa_node"), (spec.numaUnknown() ? -1 : d.numa) + "\n");
            file(devDir.resolve("resource"), resource(d));
            file(devDir.resolve("driver_override"), "(null)\n");
            if (!d.isBridge()) {
                file(devDir.resolve("reset"), ""); // endpoints have a reset method (FLR); SimulatedKernel acts on writes
            }
            link(busDevices.resolve(d.bdf), devDir);
            if (d.driver != null) {
                Path driverDir = driverDirs.computeIfAbsent(d.driver, n -> root.resolve("sys/bus/pci/drivers/" + n));
                driverDir(driverDir);
                link(devDir.resolve("driver"), driverDir);
                link(driverDir.resolve(d.bdf), devDir);
            }
            if (!spec.iommuOff()) {
                int group = groups.computeIfAbsent(d.groupKey, k -> groups.size());
                Path groupDevices = Files.createDirectories(groupsDir.resolve(Integer.toString(group)).resolve("devices"));
                link(groupDevices.resolve(d.bdf), devDir);
                link(devDir.resolve("iommu_group"), groupDevices.getParent());
            }
        }
    }

    /** Six BAR lines, ROM, six SR-IOV lines; bridges add their four windows. */
    private String resource(Dev d) {
        String[] lines = new String[d.isBridge() ? 17 : 13];
        java.util.Arrays.fill(lines, ZERO_RESOURCE);
        for (Bar bar : d.bars) {
            long start = (nextMmio + bar.size() - 1) / bar.size() * bar.size();
            nextMmio = start + bar.size();
            long flags = bar.wide() ? (bar.prefetchable() ? 0x14220cL : 0x140204L) : 0x40200L;
            lines[bar.index()] = String.format(Locale.ROOT, "0x%016x 0x%016x 0x%016x\n", start, start + bar.size() - 1, flags);
        }
        return String.join("", lines);
    }

    private void numaAndCpus() throws IOException {
        int cores = layout.coresPerSocket;
        int sockets = 2;
        int threads = 2;
        int total = cores * sockets * threads;
        List<List<Integer>> nodeCpus = List.of(new ArrayList<>(), new ArrayList<>());
        Path cpuBase = dir("sys/devices/system/cpu");
        for (int cpu = 0; cpu < total; cpu++) {
            int thread = cpu / (cores * sockets);
            int withinThread = cpu % (cores * sockets);
            int socket;
            int core;
            if (spec.cpuNumbering() == SimulatedHostSpec.CpuNumbering.INTERLEAVED) {
                socket = withinThread % sockets;
                core = withinThread / sockets;
            } else {
                socket = withinThread / cores;
                core = withinThread % cores;
            }
            nodeCpus.get(socket).add(cpu);
            int sibling = thread == 0 ? cpu + cores * sockets : cpu - cores * sockets;
            Path topo = Files.createDirectories(cpuBase.resolve("cpu" + cpu).resolve("topology"));
            file(topo.resolve("physical_package_id"), socket + "\n");
            file(topo.resolve("core_id"), core + "\n");
            file(topo.resolve("thread_siblings_list"), CpuList.format(List.of(cpu, sibling)) + "\n");
        }
        file(cpuBase.resolve("online"), "0-" + (total - 1) + "\n");
        file(cpuBase.resolve("possible"), "0-" + (total - 1) + "\n");
        Files.createDirectories(cpuBase.resolve("cpufreq"));
        Files.createDirectories(cpuBase.resolve("cpuidle"));

        Path nodeBase = dir("sys/devices/system/node");
        file(nodeBase.resolve("online"), "0-1\n");
        for (int node = 0; node < sockets; node++) {
            Path n = Files.createDirectories(nodeBase.resolve("node" + node));
            file(n.resolve("cpulist"), CpuList.format(nodeCpus.get(node)) + "\n");
            file(n.resolve("meminfo"), meminfo(node));
            Path huge1g = Files.createDirectories(n.resolve("hugepages/hugepages-1048576kB"));
            file(huge1g.resolve("nr_hugepages"), layout.hugepages1gPerNode + "\n");
            file(huge1g.resolve("free_hugepages"), layout.hugepages1gPerNode + "\n");
            file(huge1g.resolve("surplus_hugepages"), "0\n");
            Path huge2m = Files.createDirectories(n.resolve("hugepages/hugepages-2048kB"));
            file(huge2m.resolve("nr_hugepages"), "0\n");
            file(huge2m.resolve("free_hugepages"), "0\n");
            file(huge2m.resolve("surplus_hugepages"), "0\n");
        }
        file("proc/meminfo", procMeminfo(sockets));
    }

    /** The kernel's whole-machine count: the nodes' memory together, as on a real server. */
    private String procMeminfo(int nodes) {
        long total = layout.memoryPerNodeKiB * nodes;
        long huge = layout.hugepages1gPerNode * (long) nodes;
        long free = total - huge * 1024L * 1024L - 3_145_728L * nodes;
        return String.format(Locale.ROOT, """
                MemTotal:       %1$d kB
                MemFree:        %2$d kB
                MemAvailable:   %2$d kB
                HugePages_Total:   %3$d
                HugePages_Free:    %3$d
                HugePages_Rsvd:        0
                HugePages_Surp:        0
                Hugepagesize:       2048 kB
                """, total, free, huge);
    }

    private String meminfo(int node) {
        long total = layout.memoryPerNodeKiB;
        long huge = layout.hugepages1gPerNode * 1024L * 1024L;
        long free = total - huge - 3_145_728L;
        return String.format(Locale.ROOT, """
                Node %1$d MemTotal:       %2$d kB
                Node %1$d MemFree:        %3$d kB
                Node %1$d MemUsed:        %4$d kB
                Node %1$d Active:          1843212 kB
                Node %1$d Inactive:         921604 kB
                Node %1$d Dirty:                 0 kB
                Node %1$d FilePages:       1254320 kB
                Node %1$d AnonPages:        512880 kB
                Node %1$d HugePages_Total:   %5$d
                Node %1$d HugePages_Free:    %5$d
                Node %1$d HugePages_Surp:      0
                """, node, total, free, total - free, layout.hugepages1gPerNode);
    }

    /** A driver's directory with its bind/unbind attributes (written through {@link SimulatedKernel}). */
    private void driverDir(Path driverDir) throws IOException {
        Files.createDirectories(driverDir);
        for (String attribute : List.of("bind", "unbind")) {
            if (!Files.exists(driverDir.resolve(attribute))) {
                file(driverDir.resolve(attribute), "");
            }
        }
    }

    private Path dir(String relative) throws IOException {
        return Files.createDirectories(root.resolve(relative));
    }

    private void file(String relative, String content) throws IOException {
        Path p = root.resolve(relative);
        Files.createDirectories(p.getParent());
        file(p, content);
    }

    private static void file(Path p, String content) throws IOException {
        Files.write(p, content.getBytes(StandardCharsets.US_ASCII));
    }

    /** Relative links, as sysfs has them, so the tree stays valid wherever it is copied. */
    private static void link(Path link, Path target) throws IOException {
        Files.createSymbolicLink(link, link.getParent().relativize(target));
    }
}
