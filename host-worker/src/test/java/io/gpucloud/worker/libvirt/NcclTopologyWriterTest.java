package io.gpucloud.worker.libvirt;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.job.DomainSpec;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.sim.SimulatedHostSpec;
import io.gpucloud.worker.sim.SimulatedHosts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

class NcclTopologyWriterTest {

    @RegisterExtension
    final SimulatedHosts hosts = new SimulatedHosts();

    @Test
    void twoGpuVmListsItsGpusWithGuestBusIdsAndNvlinksBetweenThem() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("nccl"));
        host.overwrite("proc/cpuinfo", """
                processor	: 0
                vendor_id	: GenuineIntel
                cpu family	: 6
                model		: 207
                model name	: INTEL(R) XEON(R) PLATINUM 8580

                processor	: 1
                vendor_id	: GenuineIntel
                """);
        // modules 1 and 3 (partition 3): buses 3a and 5d, behind one PCIe switch with the NIC 3b
        DomainSpec spec = DomainSpecs.forGpus(host.discover(), "nccl-pair", List.of("0000:3a:00.0", "0000:5d:00.0"),
                4, 32768);
        GuestPciLayout layout = new DomainXmlBuilder().render(spec).layout();
        NcclTopologyWriter writer = new NcclTopologyWriter(GuestCatalog.builtin(), host.kernel());
        Document doc = DomainXmlBuilderTest.parse(writer.render(spec, layout,
                CpuIdentity.read(host.root(), CpuIdentity.SAPPHIRE_RAPIDS)));
        Element system = doc.getDocumentElement();
        assertThat(system.getTagName()).isEqualTo("system");
        assertThat(system.getAttribute("version")).isEqualTo("1");
        NodeList cpus = doc.getElementsByTagName("cpu");
        assertThat(cpus.getLength()).isEqualTo(1);
        Element cpu = (Element) cpus.item(0);
        assertThat(cpu.getAttribute("numaid")).isEqualTo("0");
        assertThat(cpu.getAttribute("affinity")).as("vCPUs 0-7").isEqualTo("000000ff");
        assertThat(cpu.getAttribute("arch")).isEqualTo("x86_64");
        assertThat(cpu.getAttribute("vendor")).isEqualTo("GenuineIntel");
        assertThat(cpu.getAttribute("familyid")).isEqualTo("6");
        assertThat(cpu.getAttribute("modelid")).as("read from the host's /proc/cpuinfo").isEqualTo("207");

        Element sw = child(cpu, "pci").get(0);
        assertThat(sw.getAttribute("busid")).as("the virtual switch's upstream port").isEqualTo("0000:21:00.0");
        assertThat(sw.getAttribute("class")).isEqualTo("0x060400");
        List<Element> below = child(sw, "pci");
        assertThat(below).extracting(e -> e.getAttribute("busid"))
                .containsExactly("0000:23:00.0", "0000:24:00.0", "0000:25:00.0")
                .containsExactlyElementsOf(layout.guestBdfs().values());

        Element gpu0 = below.get(0);
        assertThat(gpu0.getAttribute("class")).isEqualTo("0x030200");
        assertThat(gpu0.getAttribute("vendor")).isEqualTo("0x10de");
        assertThat(gpu0.getAttribute("device")).isEqualTo("0x2330");
        assertThat(gpu0.getAttribute("link_speed")).isEqualTo("32.0 GT/s PCIe");
        assertThat(gpu0.getAttribute("link_width")).isEqualTo("16");
        Element nic = below.get(1);
        assertThat(nic.getAttribute("vendor")).isEqualTo("0x15b3");
        assertThat(nic.getAttribute("class")).isEqualTo("0x020700");
        assertThat(child(nic, "gpu")).isEmpty();

        Element g0 = child(gpu0, "gpu").get(0);
        Element g1 = child(below.get(2), "gpu").get(0);
        assertThat(List.of(g0.getAttribute("dev"), g0.getAttribute("rank"), g0.getAttribute("sm"), g0.getAttribute("gdr")))
                .containsExactly("0", "0", "90", "1");
        assertThat(g1.getAttribute("dev")).isEqualTo("1");
        // all 18 links to the NVSwitches, which the guest does not see: NCCL's own spelling for that case
        for (Element g : List.of(g0, g1)) {
            assertThat(child(g, "nvlink")).singleElement().satisfies(l -> {
                assertThat(l.getAttribute("target")).isEqualTo("fffffff:ffff:ff");
                assertThat(l.getAttribute("count")).isEqualTo("18");
                assertThat(l.getAttribute("tclass")).isEqualTo("0x068000");
            });
        }
    }

    @Test
    void eightB200sOnTwoNodesGetTwoCpusAndTheirLinksToTheSwitchesOnce() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxB200("nccl-b200"));
        HostTopology topo = host.discover();
        List<String> gpus = List.of("0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0", "0000:9a:00.0",
                "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0");
        DomainSpec spec = DomainSpecs.forGpus(topo, UUID.randomUUID(), "eight", gpus, 2, 16384, null, null);
        GuestPciLayout layout = new DomainXmlBuilder().render(spec).layout();
        String xml = new NcclTopologyWriter(GuestCatalog.builtin(), host.kernel()).render(spec, layout,
                CpuIdentity.SAPPHIRE_RAPIDS);

        Document doc = DomainXmlBuilderTest.parse(xml);
        NodeList cpus = doc.getElementsByTagName("cpu");
        assertThat(cpus.getLength()).isEqualTo(2);
        assertThat(((Element) cpus.item(0)).getAttribute("affinity")).isEqualTo("000000ff");
        assertThat(((Element) cpus.item(1)).getAttribute("affinity")).isEqualTo("0000ff00");
        NodeList gpuNodes = doc.getElementsByTagName("gpu");
        assertThat(gpuNodes.getLength()).isEqualTo(8);
        for (int i = 0; i < 8; i++) {
            Element g = (Element) gpuNodes.item(i);
            assertThat(g.getAttribute("sm")).isEqualTo("100");
            assertThat(child(g, "nvlink")).as("one element for all links, not one per peer").singleElement()
                    .satisfies(l -> assertThat(l.getAttribute("count")).isEqualTo("18"));
            Element pci = (Element) g.getParentNode();
            assertThat(pci.getParentNode().getNodeName()).as("B200: no virtual switch between GPU and CPU").isEqualTo("cpu");
        }
        // the GPUs of node 1 are listed under the second cpu
        assertThat(child((Element) cpus.item(1), "pci")).extracting(e -> e.getAttribute("busid"))
                .allMatch(b -> b.startsWith("0000:4"));
    }

    /**
     * NCCL 2.28.9 on a real H200 loaded this writer's file for a two-GPU H200 VM (fixture
     * {@code h200-firecracker/nccl}, the first GPU's guest bus id replaced by the machine's): it read the
     * {@code <nvlink>} as 18 links to an NVSwitch ({@code NVL[370.8] - NVS/0-0}), the cell's affinity as
     * CPUs 0-7, and the all-reduce ran. When the writer's output changes, that no longer vouches for it:
     * check the new file on a GPU machine and replace the fixture.
     */
    @Test
    void theFileIsTheOneNcclAcceptedOnARealH200() throws Exception {
        Path nccl = Path.of("src/test/hosts/h200-firecracker/nccl");
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH200("nccl-h200"));
        DomainSpec spec = DomainSpecs.forGpus(host.discover(), "nccl-2", host.gpuBdfs().subList(0, 2), 4, 32768);
        String ours = new NcclTopologyWriter(GuestCatalog.builtin(), host.kernel()).render(spec,
                new DomainXmlBuilder().render(spec).layout(), CpuIdentity.read(host.root(), CpuIdentity.SAPPHIRE_RAPIDS));

        String loaded = Files.readString(nccl.resolve("topology-ours-2gpu-loaded.xml"))
                .replace("0000:00:06.0", "0000:23:00.0");
        assertThat(ours.strip()).isEqualTo(loaded.strip());
        assertThat(Files.readString(nccl.resolve("nccl-ours-2gpu.txt"))).contains("+ NVL[370.8] - NVS/0-0")
                .contains("Affinity for GPU 0 is 0-7").contains("allreduce ok");
    }

    @Test
    void oneGpuVmHasNoNvlinks() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("nccl-one"));
        DomainSpec spec = DomainSpecs.forGpus(host.discover(), "solo", List.of("0000:9a:00.0"), 4, 16384);
        String xml = new NcclTopologyWriter(GuestCatalog.builtin(), host.kernel())
                .render(spec, new DomainXmlBuilder().render(spec).layout(), CpuIdentity.SAPPHIRE_RAPIDS);
        Document doc = DomainXmlBuilderTest.parse(xml);
        assertThat(doc.getElementsByTagName("gpu").getLength()).isEqualTo(1);
        assertThat(doc.getElementsByTagName("nvlink").getLength()).isZero();
        assertThat(((Element) doc.getElementsByTagName("cpu").item(0)).getAttribute("numaid"))
                .as("the VM's only guest cell mirrors host node 1").isEqualTo("0");
    }

    @Test
    void affinityIsALinuxCpumapOf32BitWords() {
        List<Integer> upper = new ArrayList<>();
        for (int i = 32; i < 64; i++) {
            upper.add(i);
        }
        assertThat(NcclTopologyWriter.affinity(upper, 64)).isEqualTo("ffffffff,00000000");
        assertThat(NcclTopologyWriter.affinity(List.of(0, 1, 2, 3), 4)).isEqualTo("0000000f");
        assertThat(NcclTopologyWriter.affinity(List.of(33), 40)).isEqualTo("00000002,00000000");
    }

    private static List<Element> child(Element parent, String name) {
        List<Element> out = new ArrayList<>();
        for (org.w3c.dom.Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(name)) {
                out.add(e);
            }
        }
        return out;
    }
}
