package io.gpucloud.placement;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import static io.gpucloud.placement.TestHosts.H100;
import static io.gpucloud.placement.TestHosts.gpus;
import static io.gpucloud.placement.TestHosts.policy;
import static org.assertj.core.api.Assertions.assertThat;

/** Hosts without a fabric (whole IOMMU groups) and full-passthrough boards. */
class PcieAndPassthroughTest {

    static final String L40S = "L40S-48GB";

    /**
     * A PCIe host: device 1 and 2 share IOMMU group 10 (behind one switch without ACS) on node 0;
     * device 3 (group 11) and device 4 (group 12) are on node 1.
     */
    static HostSnapshot pcieHost(boolean... held) {
        boolean[] h = held.length == 0 ? new boolean[4] : held;
        List<GpuSnapshot> gpus = List.of(
                new GpuSnapshot(1, "0000:17:00.0", null, 0, 10, true, h[0]),
                new GpuSnapshot(2, "0000:18:00.0", null, 0, 10, true, h[1]),
                new GpuSnapshot(3, "0000:b1:00.0", null, 1, 11, true, h[2]),
                new GpuSnapshot(4, "0000:ca:00.0", null, 1, 12, true, h[3]));
        return new HostSnapshot(new UUID(9, 9), "pcie-1", "fra1", "ready", "pcie", L40S, "NONE", "passthrough", true,
                gpus, List.of(), TestHosts.interleavedNuma(16, Set.of(), 256, new int[2]), List.of());
    }

    @Test
    void singleGpuNeverSplitsATwoGpuGroup() {
        Placement p = policy().decide(gpus(L40S, 1), List.of(pcieHost())).candidates().get(0);
        assertThat(p.gpuDeviceIds()).containsExactly(3L);
        assertThat(p.partitionRowId()).isNull();
        assertThat(p.cpuIds()).allMatch(c -> c % 2 == 1); // node 1, interleaved numbering
    }

    @Test
    void twoGpusComeAsOneWholeGroupOrTwoGroupsOnOneNode() {
        HostView v = new HostView(pcieHost(), 0, gpus(L40S, 2));
        List<List<Long>> units = new ArrayList<>();
        for (AllocationUnit u : v.units()) {
            List<Long> ids = new ArrayList<>();
            for (int i = 0; i < u.gpuCount(); i++) {
                ids.add(v.snapshot().gpus().get(u.gpuIndex(i)).deviceId());
            }
            units.add(ids);
            assertThat(u.spanNodes()).isEqualTo(1);
        }
        assertThat(units).containsExactlyInAnyOrder(List.of(1L, 2L), List.of(3L, 4L));
        Placement p = policy().decide(gpus(L40S, 2), List.of(pcieHost())).candidates().get(0);
        assertThat(p.gpuDeviceIds()).containsExactly(1L, 2L);
    }

    @Test
    void aGroupWithAHeldMemberIsNotFree() {
        HostSnapshot h = pcieHost(true, false, false, false);
        assertThat(policy().decide(gpus(L40S, 2), List.of(h)).candidates().get(0).gpuDeviceIds())
                .containsExactly(3L, 4L);
        PlacementDecision three = policy().decide(gpus(L40S, 3), List.of(h));
        assertThat(three.placed()).isFalse();
        assertThat(three.explanation()).contains("1 lack 3 free GPUs in whole IOMMU groups");
    }

    @Test
    void threeGpusSpanNodesOnlyBecauseTheyMust() {
        Placement p = policy().decide(gpus(L40S, 3), List.of(pcieHost())).candidates().get(0);
        assertThat(p.gpuDeviceIds()).hasSize(3).contains(1L, 2L);
        Placement four = policy().decide(gpus(L40S, 4), List.of(pcieHost())).candidates().get(0);
        assertThat(four.gpuDeviceIds()).containsExactly(1L, 2L, 3L, 4L);
    }

    private static HostSnapshot fullPassthrough(boolean oneHeld) {
        HostSnapshot base = TestHosts.h100().fabric("FULL_PASSTHROUGH").build();
        List<GpuSnapshot> gpus = new ArrayList<>(base.gpus());
        if (oneHeld) {
            GpuSnapshot g = gpus.get(0);
            gpus.set(0, new GpuSnapshot(g.deviceId(), g.bdf(), g.moduleId(), g.numaNode(), g.iommuGroup(), true, true));
        }
        return new HostSnapshot(base.hostId(), base.name(), base.location(), base.state(), base.platform(),
                base.gpuModel(), base.fabricMode(), base.virtualizationMode(), true, gpus, List.of(), base.numaNodes(),
                List.of());
    }

    @Test
    void fullPassthroughTakesOnlyTheWholeBoard() {
        HostSnapshot h = fullPassthrough(false);
        PlacementDecision eight = policy().decide(gpus(H100, 8), List.of(h));
        assertThat(eight.candidates().get(0).gpuDeviceIds()).hasSize(8);
        assertThat(eight.candidates().get(0).partitionRowId()).isNull();
        for (int size : new int[] {1, 2, 4}) {
            PlacementDecision d = policy().decide(gpus(H100, size), List.of(h));
            assertThat(d.placed()).isFalse();
            assertThat(d.rejections()).containsEntry("fabric-mode", 1);
        }
        PlacementDecision busy = policy().decide(gpus(H100, 8), List.of(fullPassthrough(true)));
        assertThat(busy.placed()).isFalse();
        assertThat(busy.rejections()).containsEntry("gpu-whole-board", 1);
    }
}
