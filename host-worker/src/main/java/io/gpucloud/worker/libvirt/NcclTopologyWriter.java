package io.gpucloud.worker.libvirt;

import io.gpucloud.protocol.job.DomainSpec;
import io.gpucloud.protocol.job.DomainSpec.VcpuPin;
import io.gpucloud.worker.libvirt.GuestPciLayout.GuestDevice;
import io.gpucloud.worker.vfio.PciDriverBinder;
import io.gpucloud.worker.vfio.Sysfs;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Writes the NCCL topology file ({@code NCCL_TOPO_FILE}) for a guest, with the bus ids the guest sees
 * (from {@link GuestPciLayout}, the same layout the domain XML uses):
 * <pre>
 * &lt;system version="1"&gt;
 *   &lt;cpu numaid="0" affinity="0000ffff" arch="x86_64" vendor="GenuineIntel" familyid="6" modelid="143"&gt;
 *     &lt;pci busid="0000:22:00.0" class="0x060400" ...&gt;           virtual switch (upstream port)
 *       &lt;pci busid="0000:24:00.0" class="0x030200" vendor="0x10de" device="0x2330" link_speed=... link_width="16"&gt;
 *         &lt;gpu dev="0" sm="90" rank="0" gdr="1"&gt;&lt;nvlink target="fffffff:ffff:ff" count="18" tclass="0x068000"/&gt;&lt;/gpu&gt;
 *       &lt;/pci&gt;
 *       &lt;pci busid="0000:25:00.0" class="0x020700" vendor="0x15b3" .../&gt;   the NIC beside it
 * </pre>
 * One {@code <cpu>} per guest NUMA cell (affinity: its vCPUs). GPUs and NICs are listed; other functions
 * (audio, NVMe) do not matter to NCCL. GPUs of a shared-NVSwitch partition reach each other through the
 * NVSwitches at full link count, so every GPU of a multi-GPU VM gets one {@code <nvlink>} to the switches
 * (as NCCL itself describes switches it cannot see) with the model's NVLink count; a one-GPU VM has none.
 * PCI ids and link facts come from the host's sysfs, the GPU facts from the {@link GuestCatalog}.
 */
public final class NcclTopologyWriter {

    /** QEMU's virtual PCIe switch upstream port (TI XIO3130), what the guest sees above its GPUs. */
    static final String SWITCH_VENDOR = "0x104c";
    static final String SWITCH_DEVICE = "0x8232";
    /** NCCL's bus id for an NVLink peer the guest cannot see, and the class it then gives it (bridge: NVSwitch). */
    static final String NVSWITCH_NOT_VISIBLE = "fffffff:ffff:ff";
    static final String NVSWITCH_CLASS = "0x068000";

    private final GuestCatalog catalog;
    private final Sysfs sysfs;

    public NcclTopologyWriter(GuestCatalog catalog, Sysfs sysfs) {
        this.catalog = catalog;
        this.sysfs = sysfs;
    }

    public String render(DomainSpec spec, GuestPciLayout layout, CpuIdentity cpuId) {
        XmlNode system = XmlNode.root("system").attr("version", "1");
        List<GuestDevice> gpus = layout.devices().stream().filter(DomainXmlBuilder::isGpu)
                .sorted(Comparator.comparing(GuestDevice::guestBdf)).toList();
        Map<String, Integer> gpuIndex = new LinkedHashMap<>();
        gpus.forEach(g -> gpuIndex.put(g.guestBdf(), gpuIndex.size()));
        List<DomainSpec.NumaCell> cells = spec.cells().stream()
                .sorted(Comparator.comparingInt(DomainSpec.NumaCell::guestCell)).toList();
        for (DomainSpec.NumaCell cell : cells) {
            XmlNode cpu = system.child("cpu");
            cpu.attr("numaid", Integer.toString(cell.guestCell()));
            cpu.attr("affinity", affinity(spec.vcpus().stream().filter(p -> p.hostNode() == cell.hostNode())
                    .map(VcpuPin::vcpu).toList(), spec.vcpus().size()));
            cpu.attr("arch", cpuId.arch());
            cpu.attr("vendor", cpuId.vendor());
            cpu.attr("familyid", Integer.toString(cpuId.familyId()));
            cpu.attr("modelid", Integer.toString(cpuId.modelId()));
            List<GuestDevice> here = layout.devices().stream()
                    .filter(d -> d.guestCell() == cell.guestCell() && (DomainXmlBuilder.isGpu(d) || isNic(d)))
                    .sorted(Comparator.comparing(GuestDevice::guestBdf)).toList();
            Map<String, XmlNode> switchNodes = new LinkedHashMap<>();
            for (GuestDevice d : here) {
                XmlNode parent = cpu;
                if (d.guestSwitchBdf() != null) {
                    parent = switchNodes.computeIfAbsent(d.guestSwitchBdf(), bdf -> switchNode(cpu, bdf, d));
                }
                device(parent, d, gpus, gpuIndex);
            }
        }
        return system.render(Map.of());
    }

    private XmlNode switchNode(XmlNode cpu, String switchBdf, GuestDevice first) {
        XmlNode sw = cpu.child("pci");
        sw.attr("busid", switchBdf);
        sw.attr("class", "0x060400");
        sw.attr("vendor", SWITCH_VENDOR);
        sw.attr("device", SWITCH_DEVICE);
        String[] link = link(first);
        sw.attr("link_speed", link[0]);
        sw.attr("link_width", link[1]);
        return sw;
    }

    private void device(XmlNode parent, GuestDevice d, List<GuestDevice> gpus, Map<String, Integer> gpuIndex) {
        String hostBdf = d.host().bdf();
        String dev = PciDriverBinder.devicePath(hostBdf);
        XmlNode pci = parent.child("pci");
        pci.attr("busid", d.guestBdf());
        pci.attr("class", "0x" + hex(sysfs.read(dev + "/class"), DomainXmlBuilder.isGpu(d) ? "030200" : "020000"));
        pci.attr("vendor", "0x" + hex(sysfs.read(dev + "/vendor"), DomainXmlBuilder.isGpu(d) ? "10de" : "ffff"));
        pci.attr("device", "0x" + hex(sysfs.read(dev + "/device"), "ffff"));
        String[] link = link(d);
        pci.attr("link_speed", link[0]);
        pci.attr("link_width", link[1]);
        if (!DomainXmlBuilder.isGpu(d)) {
            return;
        }
        Optional<GuestCatalog.GpuFacts> facts = catalog.gpu(d.host().gpuModel());
        int index = gpuIndex.get(d.guestBdf());
        XmlNode gpu = pci.child("gpu");
        gpu.attr("dev", Integer.toString(index));
        gpu.attr("sm", Integer.toString(facts.map(GuestCatalog.GpuFacts::sm).orElse(0)));
        gpu.attr("rank", Integer.toString(index));
        gpu.attr("gdr", "1");
        int links = facts.map(GuestCatalog.GpuFacts::nvlinks).orElse(0);
        if (links == 0 || gpus.size() < 2) {
            return;
        }
        // All of a GPU's links go to the NVSwitches, which the guest does not see: NCCL writes exactly this
        // for such a link ("remote NVLink device is not visible inside this VM, assume NVSwitch") and joins
        // every GPU's links in one NVS node, so each GPU gets its own link count once, not once per peer.
        XmlNode nvlink = gpu.child("nvlink");
        nvlink.attr("target", NVSWITCH_NOT_VISIBLE);
        nvlink.attr("count", Integer.toString(links));
        nvlink.attr("tclass", NVSWITCH_CLASS);
    }

    /** Link speed and width: what sysfs says for the host device, else the catalog's figures. */
    private String[] link(GuestDevice d) {
        String dev = PciDriverBinder.devicePath(d.host().bdf());
        Optional<GuestCatalog.GpuFacts> facts = catalog.gpu(d.host().gpuModel());
        String speed = sysfs.read(dev + "/current_link_speed").filter(s -> !s.isBlank() && !s.startsWith("Unknown"))
                .orElse(facts.map(GuestCatalog.GpuFacts::linkSpeed).orElse(catalog.defaultLinkSpeed()));
        String width = sysfs.read(dev + "/current_link_width").filter(s -> s.matches("\\d+"))
                .orElse(Integer.toString(facts.map(GuestCatalog.GpuFacts::linkWidth).orElse(catalog.defaultLinkWidth())));
        return new String[] {speed, width};
    }

    private static boolean isNic(GuestDevice d) {
        return "nic".equalsIgnoreCase(d.host().kind());
    }

    /** Linux cpumap format: 32-bit hex words, most significant first, comma separated. */
    static String affinity(List<Integer> vcpus, int totalVcpus) {
        int max = Math.max(totalVcpus - 1, vcpus.stream().mapToInt(Integer::intValue).max().orElse(0));
        int words = max / 32 + 1;
        long[] mask = new long[words];
        for (int v : vcpus) {
            mask[v / 32] |= 1L << (v % 32);
        }
        List<String> parts = new ArrayList<>();
        for (int w = words - 1; w >= 0; w--) {
            parts.add(String.format(Locale.ROOT, "%08x", mask[w]));
        }
        return String.join(",", parts);
    }

    private static String hex(Optional<String> value, String fallback) {
        String v = value.orElse(fallback).toLowerCase(Locale.ROOT);
        return v.startsWith("0x") ? v.substring(2) : v;
    }
}
