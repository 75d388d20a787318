package io.gpucloud.worker.sim;

import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.Platform;
import io.gpucloud.worker.catalog.PartitionTable;
import io.gpucloud.worker.catalog.PlatformCatalog;
import io.gpucloud.worker.discovery.HostDiscovery;
import io.gpucloud.worker.fabric.SimulatedFmpm;
import io.gpucloud.worker.libvirt.BootImageDirectory;
import io.gpucloud.worker.libvirt.SimulatedGuestImages;
import io.gpucloud.worker.nvidiasmi.SimulatedNvidiaSmi;
import io.gpucloud.worker.pci.Bdf;
import io.gpucloud.worker.sim.BoardLayout.Dev;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;

/**
 * A server that exists only as files: a sysfs/procfs tree under {@link #root()} laid out like a real
 * HGX (or PCIe, or GPU-less) host, plus nvidia-smi and fmpm simulators bound to the same hardware. The
 * worker's real code runs against it unchanged: {@link #discover()} is the production
 * {@link HostDiscovery} pointed at this root.
 *
 * <p>Defaults for HGX boards: 2 sockets, 2 NUMA nodes, 224 logical CPUs numbered interleaved, 2 TiB of
 * memory with 900 1-GiB hugepages per node, 8 GPUs behind 4 Broadcom PCIe switches (each with two GPUs,
 * a ConnectX-7 and on two of them an NVMe drive), GPUs on node 0 for the first two switches, NVSwitches
 * (4 for H100/H200, 6 per board for A100, none for B200), GPUs bound to nvidia, Fabric Manager running.
 *
 * <p>Driver binding acts through {@link #kernel()}: a {@link SimulatedKernel} that changes the tree the way
 * Linux reacts to writes of {@code driver_override}, {@code unbind}, {@code drivers_probe} and {@code reset}.
 */
public final class SimulatedHost implements AutoCloseable {

    private final SimulatedHostSpec spec;
    private final Path root;
    private final boolean ownsRoot;
    private final BoardLayout layout;
    private final SimulatedNvidiaSmi nvidiaSmi;
    private final SimulatedFmpm fmpm;
    private final SimulatedKernel kernel;

    private SimulatedHost(SimulatedHostSpec spec, Path root, boolean ownsRoot) {
        this.spec = spec;
        this.root = root;
        this.ownsRoot = ownsRoot;
        this.layout = BoardLayout.of(spec);
        new SysfsTreeWriter(root, layout).write();
        this.kernel = new SimulatedKernel(root, layout);
        this.nvidiaSmi = new SimulatedNvidiaSmi(root, layout.gpus.stream().map(this::smiGpu).toList(),
                spec.moduleIdSpelling());
        this.fmpm = fabricManager();
    }

    /** Writes the host into {@code root} (created if needed, expected empty); the caller owns the directory. */
    public static SimulatedHost materialize(SimulatedHostSpec spec, Path root) {
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new SimulatedHost(spec, root, false);
    }

    /**
     * Writes the host into a fresh temporary directory, deleted again by {@link #close()}. The tree is a
     * couple of thousand tiny files, so it goes to {@code /dev/shm} (memory) where that exists: on a
     * virtual disk the same tree takes ten times longer to write and to delete.
     */
    public static SimulatedHost inTempDirectory(SimulatedHostSpec spec) {
        try {
            String prefix = "simhost-" + spec.hostName() + "-";
            Path shm = Path.of("/dev/shm");
            Path dir = Files.isDirectory(shm) && Files.isWritable(shm)
                    ? Files.createTempDirectory(shm, prefix)
                    : Files.createTempDirectory(prefix);
            return new SimulatedHost(spec, dir, true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public SimulatedHostSpec spec() {
        return spec;
    }

    /** The directory standing in for "/": holds {@code sys/} and {@code proc/}. */
    public Path root() {
        return root;
    }

    /** nvidia-smi of this host; its MIG state and {@code hold}/{@code release} hooks are the simulator's own. */
    public SimulatedNvidiaSmi nvidiaSmi() {
        return nvidiaSmi;
    }

    /** fmpm talking to this host's Fabric Manager; exits 127 when the spec has no Fabric Manager. */
    public SimulatedFmpm fmpm() {
        return fmpm;
    }

    /**
     * The kernel side of this host's sysfs: writes to {@code driver_override}, {@code unbind},
     * {@code drivers_probe} and {@code reset} must go through it to take effect, as on Linux.
     */
    public SimulatedKernel kernel() {
        return kernel;
    }

    /** The driver a PCI function is bound to now (its {@code driver} link), empty when unbound. */
    public Optional<String> driver(String bdf) {
        return kernel.readLink("/sys/bus/pci/devices/" + bdf + "/driver").map(l -> l.substring(l.lastIndexOf('/') + 1));
    }

    /** The production discovery, pointed at this host. */
    public HostDiscovery discovery() {
        return new HostDiscovery(root, nvidiaSmi, fmpm);
    }

    public HostTopology discover() {
        return discovery().discover();
    }

    /** Discovery with module ids the control plane persisted (what it does for GPUs on vfio-pci). */
    public HostTopology discover(Map<String, Integer> knownModuleIds) {
        return discovery().discover(knownModuleIds);
    }

    /** The truth the simulator was built with: GPU BDF → module id, in bus order. */
    public Map<String, Integer> moduleIds() {
        Map<String, Integer> ids = new TreeMap<>();
        layout.gpus.stream().filter(g -> g.moduleId != null).forEach(g -> ids.put(g.bdf, g.moduleId));
        return ids;
    }

    /** BDFs of the GPUs present, in bus order. */
    public List<String> gpuBdfs() {
        return layout.gpus.stream().map(g -> g.bdf).sorted().toList();
    }

    /**
     * The host's boot image directory. Until {@link #putBootImage} has made it, the simulated host holds
     * every image and does not report them (as a worker older than the report does).
     */
    public BootImageDirectory bootImages() {
        return new BootImageDirectory(root, BootImageDirectory.DEFAULT);
    }

    /**
     * Puts a boot image on the host, at {@code path} under {@link BootImageDirectory#DEFAULT} (an empty
     * qcow2 image of {@code virtualSizeBytes}), as an operator copies one there.
     */
    public void putBootImage(String path, long virtualSizeBytes) {
        Path image = Path.of(path);
        if (!image.normalize().startsWith(BootImageDirectory.DEFAULT)) {
            throw new IllegalArgumentException(path + " is not under " + BootImageDirectory.DEFAULT);
        }
        try {
            Path local = root.resolve(path.substring(1));
            Files.createDirectories(local.getParent());
            Files.write(local, SimulatedGuestImages.emptyQcow2(virtualSizeBytes));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Removes a boot image from the host, as an operator would. */
    public void removeBootImage(String path) {
        try {
            Files.deleteIfExists(root.resolve(path.substring(1)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Overwrites a file below the root: for tests that need a garbled or unexpected value. */
    public void overwrite(String relativePath, String content) {
        try {
            Path p = root.resolve(relativePath);
            Files.createDirectories(p.getParent());
            Files.writeString(p, content, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        if (!ownsRoot) {
            return;
        }
        try {
            io.gpucloud.worker.FileTrees.deleteTree(root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete simulated host " + root, e);
        }
    }

    private SimulatedNvidiaSmi.Gpu smiGpu(Dev g) {
        return new SimulatedNvidiaSmi.Gpu(g.bdf, g.gpu.productName(), g.gpu.architecture(), g.device, uuid(g),
                serial(g), g.moduleId, g.gpu.memoryMiB(), (int) (g.gpu.bar1Bytes() / BoardLayout.MiB));
    }

    private SimulatedFmpm fabricManager() {
        Platform board = spec.board();
        boolean hgx = board != Platform.PCIE_GPU && board != Platform.NO_GPU;
        PartitionTable table = hgx ? fullTable(board) : new PartitionTable("none", 0, 0, List.of());
        Map<Integer, SimulatedFmpm.FmGpu> gpus = new LinkedHashMap<>();
        for (Dev g : layout.gpus) {
            if (g.moduleId != null) {
                gpus.put(g.moduleId, new SimulatedFmpm.FmGpu(g.moduleId, uuid(g),
                        g.gpu.fmReportsPciBusId() ? Bdf.toNvidiaFormat(g.bdf) : ""));
            }
        }
        SimulatedFmpm sim = new SimulatedFmpm(table, gpus);
        return hgx && spec.fabricManagerPresent() ? sim : sim.uninstalled();
    }

    private static PartitionTable fullTable(Platform board) {
        // A single A100 board's Fabric Manager only knows its own board's partitions.
        Set<Integer> boardOne = Set.of(1, 2, 3, 4, 5, 6, 7, 8);
        return PlatformCatalog.builtin().tableFor(board, boardOne).orElseThrow();
    }

    private String uuid(Dev g) {
        return "GPU-" + UUID.nameUUIDFromBytes((spec.hostName() + "/" + g.bdf).getBytes(StandardCharsets.UTF_8));
    }

    private String serial(Dev g) {
        return String.format("16529230%05d", Math.abs((spec.hostName() + g.bdf).hashCode()) % 100000);
    }
}
