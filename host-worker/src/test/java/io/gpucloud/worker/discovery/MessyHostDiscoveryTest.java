package io.gpucloud.worker.discovery;

import static io.gpucloud.worker.discovery.PlatformDiscoveryTest.devices;
import static io.gpucloud.worker.discovery.PlatformDiscoveryTest.gpus;
import static io.gpucloud.worker.discovery.PlatformDiscoveryTest.partition;
import static io.gpucloud.worker.discovery.PlatformDiscoveryTest.range;
import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.protocol.Cpu;
import io.gpucloud.protocol.DeviceKind;
import io.gpucloud.protocol.DiscoveryProblem;
import io.gpucloud.protocol.FabricMode;
import io.gpucloud.protocol.FabricPartition;
import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.PciDevice;
import io.gpucloud.protocol.Platform;
import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.sim.SimulatedHostSpec;
import io.gpucloud.worker.sim.SimulatedHosts;
import io.gpucloud.worker.sim.SimulatedHostSpec.CpuNumbering;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Real-world mess: each is reported as a problem, and discovery still returns a usable topology. */
class MessyHostDiscoveryTest {

    @RegisterExtension
    final SimulatedHosts hosts = new SimulatedHosts();

    private SimulatedHost host(SimulatedHostSpec spec) {
        return hosts.create(spec);
    }

    @Test
    void numaNodeMinusOneLeavesNumaUnknownAndWarnsPerDevice() {
        HostTopology t = host(SimulatedHostSpec.hgxH100("numa").withNumaUnknown()).discover();
        assertThat(t.pciDevices()).allSatisfy(d -> assertThat(d.numaNode()).isNull());
        List<DiscoveryProblem> warnings = problems(t, "numa-node-unknown");
        assertThat(warnings).allSatisfy(p -> assertThat(p.severity()).isEqualTo("warning"));
        assertThat(warnings).extracting(DiscoveryProblem::subject)
                .containsAll(gpus(t).stream().map(PciDevice::bdf).toList())
                .doesNotContainAnyElementsOf(devices(t, DeviceKind.BRIDGE).stream().map(PciDevice::bdf).toList());
        assertThat(t.platform()).isEqualTo(Platform.HGX_H100_8);
    }

    @Test
    void iommuOffMeansNoPassthrough() {
        HostTopology t = host(SimulatedHostSpec.hgxH100("noiommu").withIommuOff()).discover();
        assertThat(t.passthroughCapable()).isFalse();
        assertThat(t.pciDevices()).allSatisfy(d -> assertThat(d.iommuGroup()).isNull());
        assertThat(problems(t, "iommu-off")).singleElement()
                .satisfies(p -> assertThat(p.severity()).isEqualTo("error"));
        assertThat(gpus(t)).hasSize(8);
    }

    @Test
    void gpuAudioFunctionTravelsWithItsGpu() {
        HostTopology t = host(SimulatedHostSpec.pcieGpuHost("audio").withGpuAudioFunctions()).discover();
        Map<String, PciDevice> byBdf = t.pciDevices().stream().collect(Collectors.toMap(PciDevice::bdf, d -> d));
        PciDevice gpu = byBdf.get("0000:17:00.0");
        PciDevice audio = byBdf.get("0000:17:00.1");
        assertThat(audio).as("a function sharing the GPU's IOMMU group is reported").isNotNull();
        assertThat(audio.kind()).isEqualTo(DeviceKind.OTHER);
        assertThat(audio.iommuGroup()).isEqualTo(gpu.iommuGroup());
        assertThat(problems(t, "iommu-group-shared")).hasSize(4)
                .allSatisfy(p -> assertThat(p.severity()).isEqualTo("info"))
                .anySatisfy(p -> assertThat(p.message()).contains("0000:17:00.0", "0000:17:00.1"));
        assertThat(gpus(t)).hasSize(4);
    }

    @Test
    void nvswitchesSharingOneGroupAreReportedOnce() {
        HostTopology t = host(SimulatedHostSpec.hgxH100("nvsw").withSharedNvswitchGroup()).discover();
        List<PciDevice> switches = devices(t, DeviceKind.NVSWITCH);
        assertThat(switches).hasSize(4).extracting(PciDevice::iommuGroup).containsOnly(switches.get(0).iommuGroup());
        assertThat(problems(t, "iommu-group-shared")).singleElement()
                .satisfies(p -> assertThat(p.subject()).isEqualTo("iommu group " + switches.get(0).iommuGroup()));
    }

    @Test
    void degradedBoardKeepsPartitionNumbersAndMarksTheMissingGpusPartitionsUnavailable() {
        SimulatedHost host = host(SimulatedHostSpec.hgxH100("degraded").withMissingModuleIds(3));
        HostTopology t = host.discover();

        assertThat(t.platform()).isEqualTo(Platform.HGX_H100_8);
        assertThat(gpus(t)).hasSize(7).extracting(PciDevice::moduleId).doesNotContain(3);
        assertThat(problems(t, "gpu-missing")).singleElement().satisfies(p -> {
            assertThat(p.severity()).isEqualTo("warning");
            assertThat(p.subject()).isEqualTo("module 3");
        });
        assertDegradedPartitions(t);
        assertThat(t.fabricSource()).isEqualTo("fmpm");
        assertThat(host.fmpm().run("-l").stdout()).as("Fabric Manager itself omits them")
                .doesNotContain("\"partitionId\" : 0\n").contains("\"partitionId\" : 4\n");
    }

    @Test
    void degradedBoardWithoutFabricManagerUsesTheBuiltInTableTheSameWay() {
        HostTopology t = host(SimulatedHostSpec.hgxH100("degraded-nofm").withMissingModuleIds(3)
                .withFabricManager(false)).discover();
        assertThat(t.fabricSource()).isEqualTo("builtin");
        assertThat(problems(t, "fabric-manager-absent")).singleElement()
                .satisfies(p -> assertThat(p.severity()).isEqualTo("info"));
        assertDegradedPartitions(t);
    }

    private static void assertDegradedPartitions(HostTopology t) {
        assertThat(t.partitions()).extracting(FabricPartition::partitionId).containsExactlyElementsOf(range(0, 14));
        assertThat(t.partitions()).filteredOn(p -> !p.available()).extracting(FabricPartition::partitionId)
                .containsExactly(0, 1, 3, 9);
        assertThat(partition(t, 4).moduleIds()).containsExactly(2, 4);
        assertThat(partition(t, 4).available()).isTrue();
    }

    @Test
    void nonZeroPciDomainWorksEverywhere() {
        SimulatedHost host = host(SimulatedHostSpec.hgxH100("dom1").withPciDomain(1));
        HostTopology t = host.discover();
        assertThat(t.pciDevices()).allSatisfy(d -> assertThat(d.bdf()).startsWith("0001:"));
        assertThat(gpus(t)).hasSize(8).allSatisfy(g -> {
            assertThat(g.moduleId()).isNotNull();
            assertThat(g.switchBdf()).startsWith("0001:");
            assertThat(g.rootPortBdf()).startsWith("0001:");
            assertThat(g.iommuGroup()).isNotNull();
        });
        assertThat(gpus(t)).extracting(PciDevice::moduleId).containsExactly(2, 4, 1, 3, 6, 8, 5, 7);
        assertThat(host.nvidiaSmi().run("-q").stdout()).contains("GPU 00000001:18:00.0");
        assertThat(t.partitions()).allSatisfy(p -> assertThat(p.available()).isTrue());
        assertThat(t.problems()).isEmpty();
    }

    @Test
    void interleavedNumberingPutsEvenCpusOnNodeZero() {
        HostTopology t = host(SimulatedHostSpec.hgxH100("inter").withCpuNumbering(CpuNumbering.INTERLEAVED)).discover();
        assertThat(t.cpus()).allSatisfy(c -> assertThat(c.numaNode()).isEqualTo(c.id() % 2));
        Cpu cpu1 = t.cpus().get(1);
        assertThat(cpu1.socket()).isEqualTo(1);
        assertThat(cpu1.siblings()).containsExactly(1, 113);
    }

    @Test
    void blockedNumberingPutsTheFirstHalfOfEachThreadSetOnNodeZero() {
        HostTopology t = host(SimulatedHostSpec.hgxH100("blocked").withCpuNumbering(CpuNumbering.BLOCKED)).discover();
        assertThat(t.numaNodes().get(0).cpus()).isEqualTo(CpuList.parse("0-55,112-167"));
        assertThat(t.cpus().get(1).numaNode()).isZero();
        assertThat(t.cpus().get(56).numaNode()).isEqualTo(1);
        assertThat(t.cpus().get(0).siblings()).containsExactly(0, 112);
    }

    @Test
    void garbledIdFileSkipsThatDeviceAndTheBoardLooksDegraded() {
        SimulatedHost host = host(SimulatedHostSpec.hgxH100("garbled"));
        String gpuDir = sysDir(host, "0000:5d:00.0");
        host.overwrite(gpuDir + "/vendor", "\u0000\u0000garbage");
        HostTopology t = host.discover();

        assertThat(problems(t, "sysfs-garbled")).singleElement()
                .satisfies(p -> assertThat(p.subject()).endsWith("0000:5d:00.0/vendor"));
        assertThat(gpus(t)).hasSize(7);
        assertThat(problems(t, "gpu-missing")).singleElement()
                .satisfies(p -> assertThat(p.subject()).isEqualTo("module 3"));
    }

    @Test
    void garbledOptionalFilesCostOnlyTheirField() {
        SimulatedHost host = host(SimulatedHostSpec.hgxH100("garbled2"));
        host.overwrite(sysDir(host, "0000:19:00.0") + "/numa_node", "zero");
        host.overwrite(sysDir(host, "0000:18:00.0") + "/resource", "not a resource table\n");
        host.overwrite("sys/devices/system/node/node1/meminfo", "Node 1 MemTotal: lots\n");
        HostTopology t = host.discover();

        Map<String, PciDevice> byBdf = t.pciDevices().stream().collect(Collectors.toMap(PciDevice::bdf, d -> d));
        assertThat(byBdf.get("0000:19:00.0").numaNode()).isNull();
        assertThat(byBdf.get("0000:18:00.0").barSizes()).isEmpty();
        assertThat(byBdf.get("0000:18:00.0").moduleId()).isEqualTo(2);
        assertThat(t.numaNodes().get(1).memoryMiB()).isZero();
        assertThat(t.numaNodes().get(1).cpus()).hasSize(112);
        assertThat(problems(t, "sysfs-garbled")).hasSize(3);
        assertThat(t.partitions()).allSatisfy(p -> assertThat(p.available()).isTrue());
    }

    @Test
    void unreadableFileIsAWarningNotAFailure() throws IOException {
        SimulatedHost host = host(SimulatedHostSpec.hgxH100("unreadable"));
        Path cpulist = host.root().resolve("sys/devices/system/node/node0/cpulist");
        Files.delete(cpulist);
        Files.createDirectory(cpulist); // reading it now fails with an I/O error, as a broken sysfs attribute does
        HostTopology t = host.discover();

        assertThat(problems(t, "sysfs-unreadable")).singleElement()
                .satisfies(p -> assertThat(p.subject()).isEqualTo("/sys/devices/system/node/node0/cpulist"));
        assertThat(problems(t, "cpu-topology-unknown")).singleElement();
        assertThat(t.cpus()).hasSize(112).allSatisfy(c -> assertThat(c.numaNode()).isEqualTo(1));
        assertThat(gpus(t)).hasSize(8);
    }

    @Test
    void gpusOnVfioTakeModuleIdsFromTheControlPlanesRecord() {
        SimulatedHost host = host(SimulatedHostSpec.hgxH100("vfio").withNvidiaDriverLoaded(false));
        Map<String, Integer> persisted = new HashMap<>();
        // The control plane may hand them back in nvidia-smi's eight-digit spelling.
        host.moduleIds().forEach((bdf, id) -> persisted.put("0000" + bdf, id));
        HostTopology t = host.discover(persisted);

        assertThat(gpus(t)).allSatisfy(g -> assertThat(g.driver()).isEqualTo("vfio-pci"));
        assertThat(gpus(t)).extracting(PciDevice::moduleId).containsExactly(2, 4, 1, 3, 6, 8, 5, 7);
        assertThat(t.partitions()).allSatisfy(p -> assertThat(p.available()).isTrue());
        assertThat(t.problems()).isEmpty();
    }

    @Test
    void gpusOnVfioWithoutARecordHaveNoModuleIdAndNoUsablePartition() {
        HostTopology t = host(SimulatedHostSpec.hgxH100("vfio-new").withNvidiaDriverLoaded(false)).discover();
        assertThat(gpus(t)).allSatisfy(g -> assertThat(g.moduleId()).isNull());
        assertThat(problems(t, "module-id-unknown")).hasSize(8);
        assertThat(t.partitions()).hasSize(15).noneMatch(FabricPartition::available);
        assertThat(problems(t, "gpu-missing")).isEmpty();
    }

    @Test
    void nvidiaSmiFailureFallsBackToTheRecord() {
        SimulatedHost host = host(SimulatedHostSpec.hgxH100("smi-broken"));
        HostDiscovery discovery = new HostDiscovery(host.root(), args -> new CommandResult(9,
                "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the "
                        + "latest NVIDIA driver is installed and running.\n\n", ""), host.fmpm());
        HostTopology t = discovery.discover(host.moduleIds());

        assertThat(problems(t, "nvidia-smi-failed")).singleElement()
                .satisfies(p -> assertThat(p.message()).contains("exit 9", "couldn't communicate"));
        assertThat(gpus(t)).extracting(PciDevice::moduleId).containsExactly(2, 4, 1, 3, 6, 8, 5, 7);
    }

    @Test
    void hardwareWinsOverAStaleRecord() {
        SimulatedHost host = host(SimulatedHostSpec.hgxH100("swapped"));
        Map<String, Integer> stale = new HashMap<>(host.moduleIds());
        stale.put("0000:18:00.0", 7);
        HostTopology t = host.discover(stale);
        assertThat(problems(t, "module-id-changed")).singleElement()
                .satisfies(p -> assertThat(p.subject()).isEqualTo("0000:18:00.0"));
        assertThat(gpus(t).get(0).moduleId()).isEqualTo(2);
    }

    @Test
    void a100FabricManagerNamesGpuBusIdsSoModuleIdsSurviveVfio() {
        HostTopology t = host(SimulatedHostSpec.hgxA100("a100-vfio").withNvidiaDriverLoaded(false)).discover();
        assertThat(gpus(t)).extracting(PciDevice::moduleId).containsExactly(3, 4, 1, 2, 7, 8, 5, 6);
        assertThat(t.problems()).isEmpty();
    }

    @Test
    void stoppedFabricManagerFallsBackToBuiltInTable() {
        SimulatedHost host = host(SimulatedHostSpec.hgxB200("fm-down"));
        host.fmpm().setRunning(false);
        HostTopology t = host.discover();
        assertThat(t.fabricSource()).isEqualTo("builtin");
        assertThat(problems(t, "fabric-manager-unreachable")).singleElement()
                .satisfies(p -> assertThat(p.severity()).isEqualTo("warning"));
        assertThat(t.partitions()).extracting(FabricPartition::partitionId).containsExactlyElementsOf(range(1, 15));
    }

    @Test
    void activePartitionsComeFromFabricManager() {
        SimulatedHost host = host(SimulatedHostSpec.hgxH100("active"));
        assertThat(host.fmpm().run("-a", "4").exitCode()).isZero();
        HostTopology t = host.discover();
        assertThat(t.partitions()).filteredOn(FabricPartition::active).extracting(FabricPartition::partitionId)
                .containsExactly(4);
    }

    @Test
    void fullPassthroughReportsNoPartitions() {
        SimulatedHost host = host(SimulatedHostSpec.hgxH100("fullpt"));
        HostTopology t = host.discovery().withFabricMode(FabricMode.FULL_PASSTHROUGH).discover();
        assertThat(t.fabricMode()).isEqualTo(FabricMode.FULL_PASSTHROUGH);
        assertThat(t.partitions()).isEmpty();
        assertThat(t.platform()).isEqualTo(Platform.HGX_H100_8);
    }

    @Test
    void sxmGpusWithoutNvswitchesAreFlagged() throws IOException {
        SimulatedHost host = host(SimulatedHostSpec.hgxH100("nvsw-gone"));
        for (String bdf : List.of("0000:07:00.0", "0000:08:00.0", "0000:09:00.0", "0000:0a:00.0")) {
            Files.delete(host.root().resolve("sys/bus/pci/devices").resolve(bdf));
        }
        HostTopology t = host.discover();
        assertThat(t.platform()).isEqualTo(Platform.PCIE_GPU);
        assertThat(t.partitions()).isEmpty();
        assertThat(problems(t, "platform-unrecognized")).singleElement()
                .extracting(DiscoveryProblem::message).isEqualTo("8 H100-SXM5-80GB GPUs and no NVSwitch match no HGX "
                        + "board; treated as a PCIe GPU host without fabric");
    }

    @Test
    void missingModuleOnSixteenGpuSystemIsNamed() {
        HostTopology t = host(SimulatedHostSpec.hgxA100x16("a100x16-degraded").withMissingModuleIds(12)).discover();
        assertThat(t.platform()).isEqualTo(Platform.HGX_A100_16);
        assertThat(problems(t, "gpu-missing")).singleElement()
                .satisfies(p -> assertThat(p.subject()).isEqualTo("module 12"));
        assertThat(t.partitions()).hasSize(35).filteredOn(p -> !p.available())
                .extracting(FabricPartition::partitionId).containsExactly(0, 2, 3, 6, 9, 16, 30);
    }

    @Test
    void everyCpuAndNodeIsAccountedFor() {
        HostTopology t = host(SimulatedHostSpec.noGpu("cpus")).discover();
        Set<Integer> fromNodes = t.numaNodes().stream().flatMap(n -> n.cpus().stream()).collect(Collectors.toSet());
        assertThat(t.cpus()).extracting(Cpu::id).containsExactlyInAnyOrderElementsOf(fromNodes);
    }

    private static List<DiscoveryProblem> problems(HostTopology t, String code) {
        return t.problems().stream().filter(p -> p.code().equals(code)).toList();
    }

    private static String sysDir(SimulatedHost host, String bdf) {
        Path link = host.root().resolve("sys/bus/pci/devices").resolve(bdf);
        try {
            return host.root().relativize(link.toRealPath()).toString();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
