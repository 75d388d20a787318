package io.gpucloud.worker.sim;

import io.gpucloud.protocol.Platform;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The hardware of a simulated server as plain data: PCI functions with their place in the tree,
 * CPUs, memory. Bus numbers, ids, BARs and drivers follow what real HGX servers show; module ids are
 * deliberately not in bus order (the H100 one is the order seen on a real board).
 */
final class BoardLayout {

    static final long KiB = 1024;
    static final long MiB = KiB * 1024;
    static final long GiB = MiB * 1024;

    /** A BAR: index 0-5; a 64-bit BAR also occupies the next index. */
    record Bar(int index, long size, boolean wide, boolean prefetchable) {
    }

    /** One PCI function. {@code parent} null: it sits on a root bus. */
    static final class Dev {
        final String bdf;
        final String vendor;
        final String device;
        final String classCode;
        final int numa;
        final Dev parent;
        final List<Bar> bars;
        String driver;
        String groupKey;
        Integer moduleId;
        GpuModel gpu;

        Dev(String bdf, String vendor, String device, String classCode, int numa, Dev parent, List<Bar> bars,
            String driver) {
            this.bdf = bdf;
            this.vendor = vendor;
            this.device = device;
            this.classCode = classCode;
            this.numa = numa;
            this.parent = parent;
            this.bars = bars;
            this.driver = driver;
            this.groupKey = bdf;
        }

        boolean isBridge() {
            return classCode.startsWith("0604");
        }

        /** Path below {@code sys/}: devices/pci0000:15/0000:15:01.0/0000:16:00.0/... */
        String sysPath() {
            if (parent == null) {
                return "devices/pci" + bdf.substring(0, bdf.lastIndexOf(':')) + "/" + bdf;
            }
            return parent.sysPath() + "/" + bdf;
        }
    }

    /** GPU facts the board needs: PCI identity, BARs, and what nvidia-smi prints. */
    record GpuModel(String deviceId, String productName, String architecture, int memoryMiB, List<Bar> bars,
                    boolean fmReportsPciBusId) {
        long bar1Bytes() {
            return bars.stream().mapToLong(Bar::size).max().orElse(0);
        }
    }

    record GpuSlot(int bus, int moduleId) {
    }

    /** A PCIe switch quadrant: one root port, a PEX switch, two GPUs, a NIC and maybe an NVMe drive. */
    record Quadrant(int numa, GpuSlot first, GpuSlot second, boolean nvme) {
    }

    private static final List<Bar> NO_BARS = List.of();

    static final GpuModel H100 = new GpuModel("2330", "NVIDIA H100 80GB HBM3", "Hopper", 81559,
            List.of(bar64(0, 16 * MiB, false), bar64(2, 128 * GiB, true), bar64(4, 32 * MiB, true)), false);
    static final GpuModel H200 = new GpuModel("2335", "NVIDIA H200", "Hopper", 143771,
            List.of(bar64(0, 16 * MiB, false), bar64(2, 256 * GiB, true), bar64(4, 32 * MiB, true)), false);
    static final GpuModel B200 = new GpuModel("2901", "NVIDIA B200", "Blackwell", 183359,
            List.of(bar64(0, 64 * MiB, false), bar64(2, 256 * GiB, true), bar64(4, 32 * MiB, true)), false);
    static final GpuModel A100 = new GpuModel("20b2", "NVIDIA A100-SXM4-80GB", "Ampere", 81920,
            List.of(bar32(0, 16 * MiB), bar64(1, 128 * GiB, true), bar64(3, 32 * MiB, true)), true);
    static final GpuModel L40S = new GpuModel("26b9", "NVIDIA L40S", "Ada Lovelace", 46068,
            List.of(bar32(0, 16 * MiB), bar64(1, 64 * GiB, true), bar64(3, 32 * MiB, true)), false);

    final SimulatedHostSpec spec;
    final List<Dev> devices = new ArrayList<>();
    final List<Dev> gpus = new ArrayList<>();
    final int coresPerSocket;
    final long memoryPerNodeKiB;
    final int hugepages1gPerNode;

    private BoardLayout(SimulatedHostSpec spec, int coresPerSocket, long memoryPerNode, int hugepages1gPerNode) {
        this.spec = spec;
        this.coresPerSocket = coresPerSocket;
        this.memoryPerNodeKiB = memoryPerNode / KiB;
        this.hugepages1gPerNode = hugepages1gPerNode;
    }

    static BoardLayout of(SimulatedHostSpec spec) {
        Platform board = spec.board();
        boolean hgx = board != Platform.PCIE_GPU && board != Platform.NO_GPU;
        BoardLayout b = hgx
                ? new BoardLayout(spec, 56, 1007 * GiB, 900)
                : new BoardLayout(spec, 32, 251 * GiB, 200);
        b.chipset();
        switch (board) {
            case HGX_H100_8 -> b.hgx8(H100, "22a3", 4, new int[] {2, 4, 1, 3, 6, 8, 5, 7});
            case HGX_H200_8 -> b.hgx8(H200, "22a3", 4, new int[] {3, 1, 4, 2, 7, 5, 8, 6});
            case HGX_B200_8 -> b.hgx8(B200, null, 0, new int[] {4, 2, 3, 1, 8, 6, 7, 5});
            case HGX_A100_8 -> b.a100(1);
            case HGX_A100_16 -> b.a100(2);
            case PCIE_GPU -> b.pcieGpus();
            case NO_GPU -> b.storageOnly();
        }
        return b;
    }

    // ---- boards -------------------------------------------------------------------------------------

    /** HGX 8-GPU: buses 18,2a,3a,5d on node 0 and 9a,ab,ba,db on node 1, two per PCIe switch. */
    private void hgx8(GpuModel model, String nvswitchId, int nvswitches, int[] modules) {
        int[] buses = {0x18, 0x2a, 0x3a, 0x5d, 0x9a, 0xab, 0xba, 0xdb};
        for (int q = 0; q < 4; q++) {
            quadrant(model, new Quadrant(q < 2 ? 0 : 1, new GpuSlot(buses[2 * q], modules[2 * q]),
                    new GpuSlot(buses[2 * q + 1], modules[2 * q + 1]), q % 2 == 0));
        }
        if (nvswitches > 0) {
            nvswitchTree(0x04, 0, nvswitchId, nvswitches, bar64(0, 32 * MiB, false));
        }
    }

    /** HGX A100: DGX-style buses 07/0f, 47/4e, 87/90, b7/bd per board, 6 NVSwitches per board. */
    private void a100(int boards) {
        int[][] buses = {{0x07, 0x0f, 0x47, 0x4e, 0x87, 0x90, 0xb7, 0xbd}, {0x27, 0x2f, 0x67, 0x6e, 0xa7, 0xae, 0xd7, 0xdd}};
        int[] modules = {3, 4, 1, 2, 7, 8, 5, 6};
        for (int board = 0; board < boards; board++) {
            for (int q = 0; q < 4; q++) {
                int[] b = buses[board];
                quadrant(A100, new Quadrant(q < 2 ? 0 : 1, new GpuSlot(b[2 * q], modules[2 * q] + 8 * board),
                        new GpuSlot(b[2 * q + 1], modules[2 * q + 1] + 8 * board), q % 2 == 0));
            }
            nvswitchTree(board == 0 ? 0xc0 : 0xe0, 1, "1af1", 6, bar32(0, 32 * MiB));
        }
    }

    /** Four PCIe GPUs straight on root ports, one NIC, one NVMe. */
    private void pcieGpus() {
        int[] buses = {0x17, 0x38, 0x98, 0xb8};
        for (int i = 0; i < buses.length; i++) {
            int numa = i < 2 ? 0 : 1;
            Dev port = rootPort(buses[i] - 1, numa);
            gpu(L40S, buses[i], null, numa, port);
        }
        nic(0x29, 0, rootPort(0x28, 0));
        nvme(0x5a, 0, rootPort(0x59, 0));
    }

    private void storageOnly() {
        nic(0x29, 0, rootPort(0x28, 0));
        nvme(0x5a, 0, rootPort(0x59, 0));
        nvme(0xda, 1, rootPort(0xd9, 1));
    }

    // ---- building blocks ----------------------------------------------------------------------------

    /** What every x86 server has and discovery must ignore: host bridge, chipset functions, BMC VGA, LOM NIC. */
    private void chipset() {
        add(new Dev(bdf(0x00, 0x00, 0), "8086", "09a2", "060000", 0, null, NO_BARS, null));
        add(new Dev(bdf(0x00, 0x00, 1), "8086", "09a4", "088000", 0, null, NO_BARS, null));
        add(new Dev(bdf(0x00, 0x1f, 0), "8086", "1b81", "060100", 0, null, NO_BARS, null));
        Dev bmcPort = add(new Dev(bdf(0x00, 0x1c, 0), "8086", "1bbc", "060400", 0, null, NO_BARS, "pcieport"));
        Dev bmcBridge = add(new Dev(bdf(0x02, 0x00, 0), "1a03", "1150", "060400", 0, bmcPort, NO_BARS, null));
        add(new Dev(bdf(0x03, 0x00, 0), "1a03", "2000", "030000", 0, bmcBridge,
                List.of(bar32(0, 64 * MiB), bar32(1, 256 * KiB)), "ast"));
        Dev lomPort = add(new Dev(bdf(0x00, 0x1c, 4), "8086", "1bbf", "060400", 0, null, NO_BARS, "pcieport"));
        add(new Dev(bdf(0x01, 0x00, 0), "8086", "1521", "020000", 0, lomPort, List.of(bar32(0, MiB)), "igb"));
    }

    private void quadrant(GpuModel model, Quadrant q) {
        int root = q.first().bus() - 3;
        Dev port = rootPort(root, q.numa());
        Dev up = add(new Dev(bdf(root + 1, 0, 0), "1000", "c030", "060400", q.numa(), port, NO_BARS, "pcieport"));
        List<Dev> downs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            downs.add(add(new Dev(bdf(root + 2, i, 0), "1000", "c030", "060400", q.numa(), up, NO_BARS, "pcieport")));
        }
        gpu(model, q.first().bus(), q.first().moduleId(), q.numa(), downs.get(0));
        nic(q.first().bus() + 1, q.numa(), downs.get(1));
        if (q.nvme()) {
            nvme(q.first().bus() + 2, q.numa(), downs.get(2));
        }
        gpu(model, q.second().bus(), q.second().moduleId(), q.numa(), downs.get(3));
    }

    private void nvswitchTree(int root, int numa, String deviceId, int count, Bar bar) {
        Dev port = rootPort(root, numa);
        Dev up = add(new Dev(bdf(root + 1, 0, 0), "1000", "c030", "060400", numa, port, NO_BARS, "pcieport"));
        for (int i = 0; i < count; i++) {
            Dev down = add(new Dev(bdf(root + 2, i, 0), "1000", "c030", "060400", numa, up, NO_BARS, "pcieport"));
            Dev sw = add(new Dev(bdf(root + 3 + i, 0, 0), "10de", deviceId, "068000", numa, down, List.of(bar),
                    spec.nvidiaDriverLoaded() ? "nvidia" : null));
            if (spec.sharedNvswitchGroup()) {
                sw.groupKey = "nvswitches-" + root;
            }
        }
    }

    private void gpu(GpuModel model, int bus, Integer moduleId, int numa, Dev port) {
        if (moduleId != null && spec.missingModuleIds().contains(moduleId)) {
            return; // fell off the bus: the downstream port stays, the GPU is gone
        }
        String deviceId = spec.gpuDeviceId() != null && model != L40S ? spec.gpuDeviceId() : model.deviceId();
        String driver = spec.nvidiaDriverLoaded() ? "nvidia" : "vfio-pci";
        Dev g = add(new Dev(bdf(bus, 0, 0), "10de", deviceId, "030200", numa, port, model.bars(), driver));
        g.moduleId = moduleId;
        g.gpu = model;
        gpus.add(g);
        if (spec.gpuAudioFunctions()) {
            Dev audio = add(new Dev(bdf(bus, 0, 1), "10de", "22ba", "040300", numa, port, List.of(bar32(0, 16 * KiB)),
                    spec.nvidiaDriverLoaded() ? "snd_hda_intel" : "vfio-pci"));
            audio.groupKey = g.bdf;
        }
    }

    private void nic(int bus, int numa, Dev port) {
        add(new Dev(bdf(bus, 0, 0), "15b3", "1021", "020700", numa, port, List.of(bar64(0, 32 * MiB, true)),
                "mlx5_core"));
    }

    private void nvme(int bus, int numa, Dev port) {
        add(new Dev(bdf(bus, 0, 0), "144d", "a824", "010802", numa, port, List.of(bar64(0, 32 * KiB, false)), "nvme"));
    }

    private Dev rootPort(int rootBus, int numa) {
        return add(new Dev(bdf(rootBus, 0x01, 0), "8086", "352a", "060400", numa, null, NO_BARS, "pcieport"));
    }

    private Dev add(Dev d) {
        devices.add(d);
        return d;
    }

    private String bdf(int bus, int device, int function) {
        return String.format(Locale.ROOT, "%04x:%02x:%02x.%d", spec.pciDomain(), bus, device, function);
    }

    private static Bar bar64(int index, long size, boolean prefetchable) {
        return new Bar(index, size, true, prefetchable);
    }

    private static Bar bar32(int index, long size) {
        return new Bar(index, size, false, false);
    }
}
