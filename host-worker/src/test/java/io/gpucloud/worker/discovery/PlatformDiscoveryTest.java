package io.gpucloud.worker.discovery;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.protocol.DeviceKind;
import io.gpucloud.protocol.FabricMode;
import io.gpucloud.protocol.FabricPartition;
import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.NumaNode;
import io.gpucloud.protocol.PciDevice;
import io.gpucloud.protocol.Platform;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.sim.SimulatedHostSpec;
import io.gpucloud.worker.sim.SimulatedHosts;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Discovery of every healthy fixture board: what the control plane would store for it. */
class PlatformDiscoveryTest {

    @RegisterExtension
    final SimulatedHosts hosts = new SimulatedHosts();

    @Test
    void hgxH100() {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("h100-a"));
        HostTopology t = host.discover();

        assertThat(t.hostName()).isEqualTo("h100-a");
        assertThat(t.platform()).isEqualTo(Platform.HGX_H100_8);
        assertThat(t.gpuModel()).isEqualTo("H100-SXM5-80GB");
        assertThat(t.fabricMode()).isEqualTo(FabricMode.SHARED_NVSWITCH);
        assertThat(t.fabricSource()).isEqualTo("fmpm");
        assertThat(t.passthroughCapable()).isTrue();
        assertThat(t.problems()).isEmpty();

        // The board's real wiring: bus 18, 2a, 3a, 5d, 9a, ab, ba, db -> module 2, 4, 1, 3, 6, 8, 5, 7.
        assertThat(moduleIdsInBusOrder(t)).containsExactly(2, 4, 1, 3, 6, 8, 5, 7);
        assertThat(gpus(t)).extracting(PciDevice::bdf).containsExactly("0000:18:00.0", "0000:2a:00.0",
                "0000:3a:00.0", "0000:5d:00.0", "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0");
        assertThat(devices(t, DeviceKind.NVSWITCH)).hasSize(4).allSatisfy(s -> assertThat(s.deviceId()).isEqualTo("22a3"));
        assertThat(gpus(t)).allSatisfy(g -> assertThat(g.barSizes()).containsExactly(16L << 20, 128L << 30, 32L << 20));

        assertThat(t.partitions()).extracting(FabricPartition::partitionId).containsExactlyElementsOf(range(0, 14));
        assertThat(partition(t, 0).moduleIds()).containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
        assertThat(List.of(partition(t, 3), partition(t, 4), partition(t, 5), partition(t, 6)))
                .extracting(FabricPartition::moduleIds)
                .containsExactly(List.of(1, 3), List.of(2, 4), List.of(5, 7), List.of(6, 8));
        assertThat(t.partitions()).allSatisfy(p -> assertThat(p.available()).isTrue())
                .allSatisfy(p -> assertThat(p.active()).isFalse());
    }

    @Test
    void hgxH100CpusMemoryAndNuma() {
        HostTopology t = hosts.create(SimulatedHostSpec.hgxH100("h100-b")).discover();

        assertThat(t.cpus()).hasSize(224);
        assertThat(t.numaNodes()).extracting(NumaNode::id).containsExactly(0, 1);
        NumaNode node0 = t.numaNodes().get(0);
        assertThat(node0.cpus()).hasSize(112).allSatisfy(c -> assertThat(c % 2).isZero());
        assertThat(node0.hugepages1gTotal()).isEqualTo(900);
        assertThat(node0.hugepages1gFree()).isEqualTo(900);
        long totalMiB = t.numaNodes().stream().mapToLong(NumaNode::memoryMiB).sum();
        assertThat(totalMiB).isBetween(1_900_000L, 2L * 1024 * 1024);
        // GPUs with module ids 1-4 sit on node 0, 5-8 on node 1.
        assertThat(gpus(t)).allSatisfy(g -> assertThat(g.numaNode()).isEqualTo(g.moduleId() <= 4 ? 0 : 1));
    }

    @Test
    void hgxH100PcieTreeGroupsEachGpuWithItsNicBehindOneSwitch() {
        HostTopology t = hosts.create(SimulatedHostSpec.hgxH100("h100-c")).discover();
        Map<String, PciDevice> byBdf = t.pciDevices().stream()
                .collect(Collectors.toMap(PciDevice::bdf, d -> d));

        Map<String, List<String>> kindsPerSwitch = new TreeMap<>();
        for (PciDevice d : t.pciDevices()) {
            if (d.kind() == DeviceKind.GPU || d.kind() == DeviceKind.NIC) {
                kindsPerSwitch.computeIfAbsent(d.switchBdf(), k -> new java.util.ArrayList<>()).add(d.kind().name());
            }
        }
        assertThat(kindsPerSwitch).hasSize(4).allSatisfy((sw, kinds) ->
                assertThat(kinds).containsExactlyInAnyOrder("GPU", "NIC", "GPU"));

        PciDevice gpu = byBdf.get("0000:18:00.0");
        assertThat(gpu.switchBdf()).isEqualTo("0000:16:00.0");
        assertThat(gpu.rootPortBdf()).isEqualTo("0000:15:01.0");
        assertThat(gpu.parentBdf()).isEqualTo("0000:17:00.0");
        assertThat(gpu.driver()).isEqualTo("nvidia");
        assertThat(byBdf.get(gpu.switchBdf()).model()).isEqualTo("PEX890xx");
        assertThat(byBdf.get(gpu.rootPortBdf()).parentBdf()).isNull();
        assertThat(byBdf.get(gpu.parentBdf()).switchBdf()).as("a downstream port belongs to its switch")
                .isEqualTo("0000:16:00.0");
        assertThat(byBdf.get("0000:16:00.0").switchBdf()).as("no switch above the upstream port").isNull();

        // Chipset functions, the BMC's VGA and the management NIC are not the control plane's business.
        assertThat(t.pciDevices()).noneMatch(d -> d.vendorId().equals("1a03") || d.deviceId().equals("1521")
                || d.bdf().equals("0000:00:00.0"));
        assertThat(t.pciDevices()).extracting(PciDevice::kind).doesNotContain(DeviceKind.OTHER);
    }

    @Test
    void hgxH200() {
        HostTopology t = hosts.create(SimulatedHostSpec.hgxH200("h200")).discover();
        assertThat(t.platform()).isEqualTo(Platform.HGX_H200_8);
        assertThat(t.gpuModel()).isEqualTo("H200-SXM-141GB");
        assertThat(gpus(t)).hasSize(8).allSatisfy(g -> assertThat(g.barSizes()).contains(256L << 30));
        assertThat(moduleIdsInBusOrder(t)).containsExactlyInAnyOrder(1, 2, 3, 4, 5, 6, 7, 8)
                .isNotEqualTo(List.of(1, 2, 3, 4, 5, 6, 7, 8));
        assertThat(t.partitions()).extracting(FabricPartition::partitionId).containsExactlyElementsOf(range(0, 14));
        assertThat(partition(t, 5).moduleIds()).containsExactly(5, 7);
        assertThat(t.problems()).isEmpty();
    }

    @Test
    void h200ShippingAsDevice2336IsTheSameBoard() {
        HostTopology t = hosts.create(SimulatedHostSpec.hgxH200("h200-2336").withGpuDeviceId("2336"))
                .discover();
        assertThat(gpus(t)).allSatisfy(g -> assertThat(g.deviceId()).isEqualTo("2336"));
        assertThat(t.platform()).isEqualTo(Platform.HGX_H200_8);
    }

    @Test
    void hgxB200IsRecognizedByGpuModelAloneAndNumbersPartitionsFromOne() {
        HostTopology t = hosts.create(SimulatedHostSpec.hgxB200("b200")).discover();
        assertThat(t.platform()).isEqualTo(Platform.HGX_B200_8);
        assertThat(devices(t, DeviceKind.NVSWITCH)).isEmpty();
        assertThat(gpus(t)).hasSize(8).allSatisfy(g -> assertThat(g.barSizes()).contains(256L << 30));
        assertThat(moduleIdsInBusOrder(t)).isNotEqualTo(List.of(1, 2, 3, 4, 5, 6, 7, 8));
        assertThat(t.partitions()).extracting(FabricPartition::partitionId).containsExactlyElementsOf(range(1, 15));
        assertThat(List.of(partition(t, 4), partition(t, 5), partition(t, 6), partition(t, 7)))
                .extracting(FabricPartition::moduleIds)
                .containsExactly(List.of(1, 2), List.of(3, 4), List.of(5, 6), List.of(7, 8));
        assertThat(t.problems()).isEmpty();
    }

    @Test
    void hgxA100SingleBoardUsesItsHalfOfTheSixteenGpuTable() {
        HostTopology t = hosts.create(SimulatedHostSpec.hgxA100("a100")).discover();
        assertThat(t.platform()).isEqualTo(Platform.HGX_A100_8);
        assertThat(t.gpuModel()).isEqualTo("A100-SXM4-80GB");
        assertThat(devices(t, DeviceKind.NVSWITCH)).hasSize(6);
        assertThat(moduleIdsInBusOrder(t)).containsExactly(3, 4, 1, 2, 7, 8, 5, 6);
        assertThat(t.partitions()).extracting(FabricPartition::partitionId)
                .containsExactly(1, 7, 8, 11, 12, 13, 14, 19, 20, 21, 22, 23, 24, 25, 26);
        assertThat(partition(t, 1).moduleIds()).containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
        assertThat(partition(t, 12).moduleIds()).containsExactly(3, 4);
        assertThat(t.problems()).isEmpty();
    }

    @Test
    void hgxA100SixteenGpus() {
        HostTopology t = hosts.create(SimulatedHostSpec.hgxA100x16("a100x16")).discover();
        assertThat(t.platform()).isEqualTo(Platform.HGX_A100_16);
        assertThat(gpus(t)).hasSize(16);
        assertThat(devices(t, DeviceKind.NVSWITCH)).hasSize(12);
        assertThat(gpus(t)).extracting(PciDevice::moduleId).containsExactlyInAnyOrderElementsOf(range(1, 16));
        assertThat(t.partitions()).extracting(FabricPartition::partitionId).containsExactlyElementsOf(range(0, 34));
        assertThat(partition(t, 6).moduleIds()).containsExactly(5, 6, 7, 8, 9, 10, 11, 12);
        assertThat(t.problems()).isEmpty();
    }

    @Test
    void pcieGpuHostHasNoFabric() {
        HostTopology t = hosts.create(SimulatedHostSpec.pcieGpuHost("l40s")).discover();
        assertThat(t.platform()).isEqualTo(Platform.PCIE_GPU);
        assertThat(t.gpuModel()).isEqualTo("unknown");
        assertThat(t.fabricMode()).isEqualTo(FabricMode.NONE);
        assertThat(t.fabricSource()).isEqualTo("none");
        assertThat(t.partitions()).isEmpty();
        assertThat(gpus(t)).hasSize(4).allSatisfy(g -> {
            assertThat(g.moduleId()).as("PCIe cards print Module Id N/A").isNull();
            assertThat(g.switchBdf()).isNull();
            assertThat(g.rootPortBdf()).isEqualTo(g.parentBdf());
        });
        assertThat(t.cpus()).hasSize(128);
        assertThat(t.problems()).isEmpty();
    }

    @Test
    void serverWithoutGpus() {
        HostTopology t = hosts.create(SimulatedHostSpec.noGpu("storage")).discover();
        assertThat(t.platform()).isEqualTo(Platform.NO_GPU);
        assertThat(t.gpuModel()).isNull();
        assertThat(t.fabricMode()).isEqualTo(FabricMode.NONE);
        assertThat(devices(t, DeviceKind.NIC)).hasSize(1);
        assertThat(devices(t, DeviceKind.NVME)).hasSize(2);
        assertThat(t.problems()).isEmpty();
    }

    static List<PciDevice> gpus(HostTopology t) {
        return devices(t, DeviceKind.GPU);
    }

    static List<PciDevice> devices(HostTopology t, DeviceKind kind) {
        return t.pciDevices().stream().filter(d -> d.kind() == kind).sorted(Comparator.comparing(PciDevice::bdf)).toList();
    }

    static List<Integer> moduleIdsInBusOrder(HostTopology t) {
        return gpus(t).stream().map(PciDevice::moduleId).toList();
    }

    static FabricPartition partition(HostTopology t, int id) {
        return t.partitions().stream().filter(p -> p.partitionId() == id).findFirst().orElseThrow();
    }

    static List<Integer> range(int from, int to) {
        return IntStream.rangeClosed(from, to).boxed().toList();
    }
}
