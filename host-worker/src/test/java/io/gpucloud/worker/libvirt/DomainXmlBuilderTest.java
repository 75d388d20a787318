package io.gpucloud.worker.libvirt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.Platform;
import io.gpucloud.protocol.job.DomainSpec;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.sim.SimulatedHostSpec;
import java.io.StringReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import org.xml.sax.InputSource;

class DomainXmlBuilderTest {

    private static final List<String> ALL_GPUS = List.of("0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0",
            "0000:5d:00.0", "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0");

    private static SimulatedHost h100;
    private static SimulatedHost b200;
    private static Map<Platform, HostTopology> topologies;
    private static LibvirtHypervisor libvirt;

    @TempDir
    Path tmp;

    private final DomainXmlBuilder builder = new DomainXmlBuilder();

    @BeforeAll
    static void hosts() throws Exception {
        h100 = SimulatedHost.inTempDirectory(SimulatedHostSpec.hgxH100("xml-h100").withGpuAudioFunctions());
        b200 = SimulatedHost.inTempDirectory(SimulatedHostSpec.hgxB200("xml-b200"));
        topologies = Map.of(Platform.HGX_H100_8, h100.discover(), Platform.HGX_B200_8, b200.discover());
        libvirt = LibvirtHypervisor.open(LibvirtHypervisor.TEST);
    }

    @AfterAll
    static void close() {
        libvirt.close();
        h100.close();
        b200.close();
    }

    static Stream<Arguments> shapes() {
        List<Arguments> out = new ArrayList<>();
        for (Platform board : List.of(Platform.HGX_H100_8, Platform.HGX_B200_8)) {
            out.add(Arguments.of(board, "1 GPU", List.of("0000:18:00.0"), 1));
            out.add(Arguments.of(board, "2 GPUs behind one switch", List.of("0000:3a:00.0", "0000:5d:00.0"), 1));
            out.add(Arguments.of(board, "2 GPUs on two nodes", List.of("0000:18:00.0", "0000:9a:00.0"), 2));
            out.add(Arguments.of(board, "4 GPUs", ALL_GPUS.subList(0, 4), 1));
            out.add(Arguments.of(board, "4 GPUs on two nodes",
                    List.of("0000:18:00.0", "0000:2a:00.0", "0000:9a:00.0", "0000:ab:00.0"), 2));
            out.add(Arguments.of(board, "8 GPUs", ALL_GPUS, 2));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("shapes")
    void domainMirrorsTheHostAndLibvirtAcceptsIt(Platform board, String shape, List<String> gpus, int nodes)
            throws Exception {
        HostTopology topo = topologies.get(board);
        DomainSpec spec = DomainSpecs.forGpus(topo, UUID.randomUUID(), "vm-" + board.name().toLowerCase() + "-"
                + gpus.size() + "-" + nodes, gpus, 8, 65536, null, "default");
        String xml = builder.render(spec).xml();

        VirtXmlValidate.assertValidDomain(xml, tmp);
        DomainStatus defined = libvirt.define(xml);
        try {
            assertThat(defined.hostDevices()).as("libvirt read back every hostdev")
                    .containsExactlyInAnyOrderElementsOf(spec.devices().stream().map(DomainSpec.HostDevice::bdf).toList());
        } finally {
            libvirt.undefine(spec.vmId());
        }

        Document doc = parse(xml);
        Map<String, Element> controllers = controllersByIndex(doc);
        List<Element> pxbs = controllers.values().stream().filter(c -> model(c).equals("pcie-expander-bus")).toList();
        assertThat(pxbs).as("one expander bus per guest NUMA node").hasSize(nodes);
        assertThat(pxbs.stream().map(p -> text(p, "node")).toList())
                .containsExactlyElementsOf(nodes == 1 ? List.of("0") : List.of("0", "1"));

        // every vCPU pinned to its host CPU; the simulated HGX numbers CPUs interleaved (even = node 0)
        NodeList pins = doc.getElementsByTagName("vcpupin");
        assertThat(pins.getLength()).isEqualTo(spec.vcpus().size()).isEqualTo(8 * gpus.size());
        for (DomainSpec.VcpuPin p : spec.vcpus()) {
            Element pin = (Element) pins.item(p.vcpu());
            assertThat(pin.getAttribute("vcpu")).isEqualTo(Integer.toString(p.vcpu()));
            assertThat(Integer.parseInt(pin.getAttribute("cpuset")) % 2).isEqualTo(p.hostNode());
        }
        Element topology = (Element) doc.getElementsByTagName("topology").item(0);
        int sockets = Integer.parseInt(topology.getAttribute("sockets"));
        assertThat(sockets * Integer.parseInt(topology.getAttribute("cores"))
                * Integer.parseInt(topology.getAttribute("threads"))).isEqualTo(spec.vcpus().size());
        assertThat(sockets).isEqualTo(nodes);
        assertThat(topology.getAttribute("threads")).as("whole cores: both hyperthreads").isEqualTo("2");
        NodeList memnodes = doc.getElementsByTagName("memnode");
        assertThat(memnodes.getLength()).isEqualTo(nodes);
        for (DomainSpec.NumaCell c : spec.cells()) {
            assertThat(((Element) memnodes.item(c.guestCell())).getAttribute("nodeset"))
                    .isEqualTo(Integer.toString(c.hostNode()));
        }

        NodeList hostdevs = doc.getElementsByTagName("hostdev");
        assertThat(hostdevs.getLength()).isEqualTo(spec.devices().size());
        Map<String, Element> parentOf = new HashMap<>();
        for (int i = 0; i < hostdevs.getLength(); i++) {
            Element h = (Element) hostdevs.item(i);
            assertThat(h.getAttribute("managed")).as("the worker, not libvirt, moves drivers").isEqualTo("no");
            assertThat(((Element) h.getElementsByTagName("driver").item(0)).getAttribute("name")).isEqualTo("vfio");
            Element guestAddress = lastChild(h, "address");
            parentOf.put(hostBdf(h), controllers.get(Integer.toString(Integer.decode(guestAddress.getAttribute("bus")))));
        }
        for (DomainSpec.HostDevice d : spec.devices()) {
            Element parent = parentOf.get(d.bdf());
            Element pxb = expanderAbove(parent, controllers);
            assertThat(text(pxb, "node")).as("%s sits under the expander bus of its node", d.bdf())
                    .isEqualTo(Integer.toString(spec.cells().stream().filter(c -> c.hostNode() == d.hostNode())
                            .findFirst().orElseThrow().guestCell()));
            if (board == Platform.HGX_B200_8) {
                assertThat(model(parent)).as("B200 devices sit directly behind root ports").isEqualTo("pcie-root-port");
            } else {
                assertThat(model(parent)).as("%s sits on a virtual switch", d.bdf()).isEqualTo("pcie-switch-downstream-port");
            }
        }
        if (board == Platform.HGX_B200_8) {
            assertThat(controllers.values()).noneMatch(c -> model(c).startsWith("pcie-switch"));
        } else {
            // a GPU and every other device behind the same host switch hang from the same virtual switch
            for (DomainSpec.HostDevice a : spec.devices()) {
                for (DomainSpec.HostDevice b : spec.devices()) {
                    boolean samePhysical = a.switchBdf().equals(b.switchBdf());
                    boolean sameVirtual = upstreamOf(parentOf.get(a.bdf()), controllers)
                            == upstreamOf(parentOf.get(b.bdf()), controllers);
                    assertThat(sameVirtual).as("%s and %s", a.bdf(), b.bdf()).isEqualTo(samePhysical);
                }
            }
        }
    }

    @Test
    void twoGpuVmGetsTheBusNumbersFirmwareWillAssign() throws Exception {
        DomainSpec spec = DomainSpecs.forGpus(topologies.get(Platform.HGX_H100_8), "pair",
                List.of("0000:3a:00.0", "0000:5d:00.0"), 4, 32768);
        GuestPciLayout layout = builder.render(spec).layout();

        // expander bus 0x20 → root port (bus 0x21) → switch upstream port (0x22) → downstream ports 0x23..0x25
        // (this host's GPUs carry an audio function .1, which stays in the GPU's guest slot)
        assertThat(layout.guestBdfs()).containsExactly(
                Map.entry("0000:3a:00.0", "0000:23:00.0"),
                Map.entry("0000:3a:00.1", "0000:23:00.1"),
                Map.entry("0000:3b:00.0", "0000:24:00.0"),
                Map.entry("0000:5d:00.0", "0000:25:00.0"),
                Map.entry("0000:5d:00.1", "0000:25:00.1"));
        assertThat(layout.switches()).singleElement().satisfies(s -> {
            assertThat(s.hostSwitchBdf()).isEqualTo("0000:38:00.0");
            assertThat(s.guestBdf()).isEqualTo("0000:21:00.0");
            assertThat(s.memberGuestBdfs()).containsExactly("0000:23:00.0", "0000:23:00.1", "0000:24:00.0",
                    "0000:25:00.0", "0000:25:00.1");
        });
    }

    @Test
    void b200DevicesEachGetARootPortOnTheExpanderBus() throws Exception {
        DomainSpec spec = DomainSpecs.forGpus(topologies.get(Platform.HGX_B200_8), "b200-pair",
                List.of("0000:18:00.0", "0000:2a:00.0"), 4, 32768);
        GuestPciLayout layout = builder.render(spec).layout();

        assertThat(layout.switches()).isEmpty();
        assertThat(layout.guestBdfs()).containsExactly(
                Map.entry("0000:18:00.0", "0000:21:00.0"),
                Map.entry("0000:19:00.0", "0000:22:00.0"),
                Map.entry("0000:2a:00.0", "0000:23:00.0"));
        assertThat(layout.controllers().stream().filter(c -> c.model().equals("pcie-root-port"))
                .map(GuestPciLayout.Controller::guestBdf))
                .containsExactly("0000:20:00.0", "0000:20:00.1", "0000:20:00.2");
    }

    @Test
    void gpuAndItsAudioFunctionStayOneMultiFunctionGuestSlot() throws Exception {
        DomainSpec spec = DomainSpecs.forGpus(topologies.get(Platform.HGX_H100_8), "audio",
                List.of("0000:18:00.0"), 4, 32768);
        String xml = builder.render(spec).xml();
        Document doc = parse(xml);

        Map<String, Element> byHost = new HashMap<>();
        NodeList hostdevs = doc.getElementsByTagName("hostdev");
        for (int i = 0; i < hostdevs.getLength(); i++) {
            byHost.put(hostBdf((Element) hostdevs.item(i)), lastChild((Element) hostdevs.item(i), "address"));
        }
        Element gpu = byHost.get("0000:18:00.0");
        Element audio = byHost.get("0000:18:00.1");
        assertThat(gpu.getAttribute("multifunction")).isEqualTo("on");
        assertThat(audio.getAttribute("bus")).isEqualTo(gpu.getAttribute("bus"));
        assertThat(audio.getAttribute("function")).isEqualTo("0x1");
        VirtXmlValidate.assertValidDomain(xml, tmp);
    }

    @Test
    void xNoMmapGoesOnEveryGpuAndOnNothingElse() throws Exception {
        DomainSpec spec = DomainSpecs.forGpus(topologies.get(Platform.HGX_B200_8), UUID.randomUUID(), "big-bars",
                List.of("0000:18:00.0", "0000:2a:00.0"), 4, 32768, null, "x-no-mmap");
        String xml = builder.render(spec).xml();
        VirtXmlValidate.assertValidDomain(xml, tmp);
        Document doc = parse(xml);

        NodeList devices = doc.getElementsByTagNameNS(DomainXmlBuilder.QEMU_NS, "device");
        List<String> aliases = new ArrayList<>();
        for (int i = 0; i < devices.getLength(); i++) {
            Element d = (Element) devices.item(i);
            aliases.add(d.getAttribute("alias"));
            Element property = (Element) d.getElementsByTagNameNS(DomainXmlBuilder.QEMU_NS, "property").item(0);
            assertThat(property.getAttribute("name")).isEqualTo("x-no-mmap");
            assertThat(property.getAttribute("value")).isEqualTo("true");
        }
        assertThat(aliases).containsExactly("ua-hostdev-0000-18-00-0", "ua-hostdev-0000-2a-00-0");

        String plain = builder.render(DomainSpecs.forGpus(topologies.get(Platform.HGX_B200_8), "plain-bars",
                List.of("0000:18:00.0"), 4, 32768)).xml();
        assertThat(parse(plain).getElementsByTagNameNS(DomainXmlBuilder.QEMU_NS, "override").getLength()).isZero();
    }

    @Test
    void guestFirmwareGetsA64BitWindowForAllGpuBars() throws Exception {
        DomainSpec eight = DomainSpecs.forGpus(topologies.get(Platform.HGX_H100_8), "eight", ALL_GPUS, 4, 16384);
        Document doc = parse(builder.render(eight).xml());

        NodeList args = doc.getElementsByTagNameNS(DomainXmlBuilder.QEMU_NS, "arg");
        assertThat(((Element) args.item(0)).getAttribute("value")).isEqualTo("-fw_cfg");
        // 8 × 128 GiB BAR1 = 1 TiB, doubled for alignment: 2 TiB = 2097152 MiB
        assertThat(((Element) args.item(1)).getAttribute("value")).isEqualTo("name=opt/ovmf/X-PciMmio64Mb,string=2097152");
        assertThat(((Element) doc.getElementsByTagName("maxphysaddr").item(0)).getAttribute("mode")).isEqualTo("passthrough");
    }

    @Test
    void blockedCpuNumberingPinsToTheLowerHalfForNodeZero() throws Exception {
        try (SimulatedHost blocked = SimulatedHost.inTempDirectory(SimulatedHostSpec.hgxH100("blocked")
                .withCpuNumbering(SimulatedHostSpec.CpuNumbering.BLOCKED))) {
            DomainSpec spec = DomainSpecs.forGpus(blocked.discover(), "blocked", ALL_GPUS, 8, 16384);
            String xml = builder.render(spec).xml();
            VirtXmlValidate.assertValidDomain(xml, tmp);
            NodeList pins = parse(xml).getElementsByTagName("vcpupin");
            for (DomainSpec.VcpuPin p : spec.vcpus()) {
                int cpu = Integer.parseInt(((Element) pins.item(p.vcpu())).getAttribute("cpuset"));
                int core = cpu % 112; // 2 sockets × 56 cores, hyperthreads from 112 on
                assertThat(core < 56 ? 0 : 1).as("host CPU %d of vCPU %d", cpu, p.vcpu()).isEqualTo(p.hostNode());
            }
            Element cell1 = (Element) parse(xml).getElementsByTagName("cell").item(1);
            assertThat(cell1.getAttribute("cpus")).isEqualTo("32-63");
        }
    }

    @Test
    void bootImageBecomesAVirtioDiskThatBootsFirst() throws Exception {
        DomainSpec spec = DomainSpecs.forGpus(topologies.get(Platform.HGX_H100_8), UUID.randomUUID(), "booted",
                List.of("0000:18:00.0"), 4, 16384, "/var/lib/gpucloud/images/ubuntu-24.04.qcow2", null);
        String xml = builder.render(spec).xml();
        VirtXmlValidate.assertValidDomain(xml, tmp);
        Element disk = (Element) parse(xml).getElementsByTagName("disk").item(0);
        assertThat(((Element) disk.getElementsByTagName("source").item(0)).getAttribute("file"))
                .isEqualTo("/var/lib/gpucloud/images/ubuntu-24.04.qcow2");
        assertThat(((Element) disk.getElementsByTagName("driver").item(0)).getAttribute("type")).isEqualTo("qcow2");
        assertThat(((Element) disk.getElementsByTagName("target").item(0)).getAttribute("bus")).isEqualTo("virtio");
        assertThat(((Element) disk.getElementsByTagName("boot").item(0)).getAttribute("order")).isEqualTo("1");
    }

    @Test
    void theVmBootsItsOwnOverlayReadsItsSeedFromACdromAndKeepsOneMacAndLibvirtAcceptsIt() throws Exception {
        UUID id = UUID.randomUUID();
        DomainSpec spec = DomainSpecs.forGpus(topologies.get(Platform.HGX_H100_8), id, "seeded",
                List.of("0000:18:00.0"), 4, 16384, "/var/lib/gpucloud/images/ubuntu-24.04.qcow2", null);
        GuestMedia media = new GuestMedia(Path.of("/var/lib/gpucloud-worker/disks/" + id + ".qcow2"),
                Path.of("/var/lib/gpucloud-worker/domains/" + id + ".cidata.iso"));
        String xml = builder.render(spec, media).xml();
        VirtXmlValidate.assertValidDomain(xml, tmp);
        DomainStatus defined = libvirt.define(xml);
        try {
            Document doc = parse(xml);
            Element disk = (Element) doc.getElementsByTagName("disk").item(0);
            assertThat(disk.getAttribute("device")).isEqualTo("disk");
            assertThat(((Element) disk.getElementsByTagName("source").item(0)).getAttribute("file"))
                    .as("never the shared image itself").isEqualTo(media.bootDisk().toString());
            assertThat(((Element) disk.getElementsByTagName("driver").item(0)).getAttribute("type")).isEqualTo("qcow2");
            Element cdrom = (Element) doc.getElementsByTagName("disk").item(1);
            assertThat(cdrom.getAttribute("device")).isEqualTo("cdrom");
            assertThat(((Element) cdrom.getElementsByTagName("source").item(0)).getAttribute("file"))
                    .isEqualTo(media.seed().toString());
            assertThat(cdrom.getElementsByTagName("readonly").getLength()).isEqualTo(1);
            assertThat(((Element) cdrom.getElementsByTagName("target").item(0)).getAttribute("bus")).isEqualTo("sata");
            Element mac = (Element) ((Element) doc.getElementsByTagName("interface").item(0))
                    .getElementsByTagName("mac").item(0);
            assertThat(mac.getAttribute("address")).as("what the seed's network-config matches")
                    .isEqualTo(CloudInitSeed.macOf(id)).matches("52:54:00(:[0-9a-f]{2}){3}");
            assertThat(builder.render(spec, media).xml()).as("the same on every define").isEqualTo(xml);
        } finally {
            libvirt.undefine(defined.uuid());
        }
    }

    @Test
    void specsLibvirtCannotHonourAreRefusedBeforeRendering() {
        DomainSpec good = DomainSpecs.forGpus(topologies.get(Platform.HGX_H100_8), "good", List.of("0000:18:00.0"),
                4, 16384);
        DomainSpec halfGig = new DomainSpec(good.vmId(), good.name(), 16384 + 512, good.vcpus(),
                List.of(new DomainSpec.NumaCell(0, 0, 16384 + 512)), good.devices(), good.platform(), null, null);
        assertThatThrownBy(() -> builder.render(halfGig)).isInstanceOf(InvalidDomainSpecException.class)
                .hasMessageContaining("multiple of 1024");

        DomainSpec strayCpu = new DomainSpec(good.vmId(), good.name(), good.memoryMiB(),
                List.of(new DomainSpec.VcpuPin(0, 1, 1, 1, 0)), good.cells(), good.devices(), good.platform(), null, null);
        assertThatThrownBy(() -> builder.render(strayCpu)).isInstanceOf(InvalidDomainSpecException.class)
                .hasMessageContaining("no guest NUMA cell mirrors");

        DomainSpec oddBars = new DomainSpec(good.vmId(), good.name(), good.memoryMiB(), good.vcpus(), good.cells(),
                good.devices(), good.platform(), null, "rom-bar-off");
        assertThatThrownBy(() -> builder.render(oddBars)).hasMessageContaining("unknown largeBarMode");
    }

    // ---- XML helpers --------------------------------------------------------------------------------------

    static Document parse(String xml) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        return f.newDocumentBuilder().parse(new InputSource(new StringReader(xml)));
    }

    private static Map<String, Element> controllersByIndex(Document doc) {
        Map<String, Element> out = new HashMap<>();
        NodeList list = doc.getElementsByTagName("controller");
        for (int i = 0; i < list.getLength(); i++) {
            Element c = (Element) list.item(i);
            out.put(c.getAttribute("index"), c);
        }
        return out;
    }

    private static Element expanderAbove(Element controller, Map<String, Element> controllers) {
        Element c = controller;
        while (!model(c).equals("pcie-expander-bus")) {
            Element address = lastChild(c, "address");
            assertThat(address).as("controller %s has a parent", c.getAttribute("index")).isNotNull();
            c = controllers.get(Integer.toString(Integer.decode(address.getAttribute("bus"))));
        }
        return c;
    }

    private static Element upstreamOf(Element downstream, Map<String, Element> controllers) {
        return controllers.get(Integer.toString(Integer.decode(lastChild(downstream, "address").getAttribute("bus"))));
    }

    private static String model(Element controller) {
        return controller.getAttribute("model");
    }

    private static String text(Element parent, String child) {
        return parent.getElementsByTagName(child).item(0).getTextContent();
    }

    private static Element lastChild(Element parent, String name) {
        Element found = null;
        for (org.w3c.dom.Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(name)) {
                found = e;
            }
        }
        return found;
    }

    private static String hostBdf(Element hostdev) {
        Element a = (Element) ((Element) hostdev.getElementsByTagName("source").item(0))
                .getElementsByTagName("address").item(0);
        return String.format("%04x:%02x:%02x.%d", Integer.decode(a.getAttribute("domain")),
                Integer.decode(a.getAttribute("bus")), Integer.decode(a.getAttribute("slot")),
                Integer.decode(a.getAttribute("function")));
    }
}
