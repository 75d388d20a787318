package io.gpucloud.placement;

import io.gpucloud.placement.TestHosts.Platform;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static io.gpucloud.placement.TestHosts.gpus;
import static io.gpucloud.placement.TestHosts.partitionId;
import static io.gpucloud.placement.TestHosts.policy;
import static org.assertj.core.api.Assertions.assertThat;

/** Overlap blocking, sibling-first / least damage, degraded boards — over the H100, B200 and A100 tables. */
class FabricPartitionTest {

    private static Set<Integer> freeUnitIds(HostSnapshot h, int size) {
        HostView v = new HostView(h, 0, gpus(h.gpuModel(), size));
        Set<Integer> ids = new TreeSet<>();
        for (AllocationUnit u : v.units()) {
            ids.add(u.partition().partitionId());
        }
        return ids;
    }

    /** Independent oracle: partitions of the size that share no module with any held module and are available. */
    private static Set<Integer> expectedFree(Platform p, Set<Integer> heldModules, Set<Integer> missing, int size) {
        Set<Integer> ids = new TreeSet<>();
        for (PartitionTables.Entry e : p.table().entries()) {
            if (e.moduleIds().size() == size && Collections.disjoint(e.moduleIds(), heldModules)
                    && Collections.disjoint(e.moduleIds(), missing)) {
                ids.add(e.partitionId());
            }
        }
        return ids;
    }

    static Stream<Arguments> everyPartitionOfEveryTable() {
        List<Arguments> out = new ArrayList<>();
        for (Platform p : TestHosts.platforms()) {
            for (PartitionTables.Entry e : p.table().entries()) {
                out.add(Arguments.of(p, e.partitionId()));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}: holding partition {1} blocks exactly the overlapping ones")
    @MethodSource("everyPartitionOfEveryTable")
    void holdingAPartitionBlocksEveryOverlappingPartition(Platform p, int held) {
        HostSnapshot h = TestHosts.hgx(p).hold(held).build();
        Set<Integer> heldModules = p.table().byId(held).moduleIds();
        for (int size = 1; size <= p.gpus(); size *= 2) {
            assertThat(freeUnitIds(h, size)).as("size %d", size)
                    .isEqualTo(expectedFree(p, heldModules, Set.of(), size));
        }
    }

    @Test
    void h100HoldingOneThreeBlocksZeroOneThreeSevenNine() {
        HostSnapshot h = TestHosts.h100().hold(3).build();
        Set<Integer> all = new TreeSet<>();
        for (int s = 1; s <= 8; s *= 2) {
            all.addAll(freeUnitIds(h, s));
        }
        assertThat(all).containsExactly(2, 4, 5, 6, 8, 10, 11, 12, 13, 14);
    }

    @Test
    void allocatedPartitionBlocksEvenIfGpuRowsAreNotFlaggedHeld() {
        PartitionSnapshot p4 = PartitionTables.HGX_H100.snapshots(0).get(4);
        HostSnapshot base = TestHosts.h100().build();
        List<PartitionSnapshot> parts = new ArrayList<>(base.partitions());
        parts.set(4, new PartitionSnapshot(parts.get(4).rowId(), 4, p4.moduleIds(), true, true));
        HostSnapshot h = new HostSnapshot(base.hostId(), base.name(), base.location(), base.state(), base.platform(),
                base.gpuModel(), base.fabricMode(), base.virtualizationMode(), true, base.gpus(), parts,
                base.numaNodes(), List.of());
        assertThat(freeUnitIds(h, 1)).doesNotContain(8, 10);
        assertThat(freeUnitIds(h, 8)).isEmpty();
    }

    static Stream<Arguments> siblingFirst() {
        // platform, held partition (a pair), request size, expected partition
        return Stream.of(
                // H100: 4 {2,4} taken -> 3 {1,3} before 5 {5,7}
                Arguments.of(TestHosts.H100_PLATFORM, 4, 2, 3),
                Arguments.of(TestHosts.H100_PLATFORM, 3, 2, 4),
                Arguments.of(TestHosts.H100_PLATFORM, 6, 2, 5),
                // B200: 5 {3,4} taken -> 4 {1,2} before 6 {5,6}
                Arguments.of(TestHosts.B200_PLATFORM, 5, 2, 4),
                Arguments.of(TestHosts.B200_PLATFORM, 7, 2, 6),
                // A100: 12 {3,4} taken -> 11 {1,2}
                Arguments.of(TestHosts.A100_PLATFORM, 12, 2, 11),
                Arguments.of(TestHosts.A100_PLATFORM, 18, 2, 17),
                // single GPUs: H100 module 1 (7) taken -> its pair sibling 3 (9)
                Arguments.of(TestHosts.H100_PLATFORM, 7, 1, 9),
                Arguments.of(TestHosts.H100_PLATFORM, 14, 1, 12),
                // B200 module 1 (8) taken -> module 2 (9)
                Arguments.of(TestHosts.B200_PLATFORM, 8, 1, 9),
                // A100 module 1 (19) taken -> module 2 (20); module 9 (27) -> module 10 (28)
                Arguments.of(TestHosts.A100_PLATFORM, 19, 1, 20),
                Arguments.of(TestHosts.A100_PLATFORM, 27, 1, 28),
                // A100, modules 1-4 taken: 5-8, 9-12 and 13-16 each leave exactly one free 8-GPU partition
                // (2, 4 or 6 survive): a true tie, broken by the lowest id
                Arguments.of(TestHosts.A100_PLATFORM, 7, 4, 8));
    }

    @ParameterizedTest(name = "{0}: with {1} taken a {2}-GPU request takes {3}")
    @MethodSource("siblingFirst")
    void leastDamageReproducesSiblingFirst(Platform p, int held, int size, int expected) {
        HostSnapshot h = TestHosts.hgx(p).hold(held).build();
        PlacementDecision d = policy().decide(gpus(p.model(), size), List.of(h));
        assertThat(d.placed()).as(d.explanation()).isTrue();
        assertThat(partitionId(h, d.candidates().get(0))).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}: filling one board never activates overlapping partitions")
    @MethodSource("platforms")
    void randomFillNeverOverlapsAndUsesEveryGpu(Platform p) {
        Random rnd = new Random(7);
        for (int round = 0; round < 20; round++) {
            HostSnapshot h = TestHosts.hgx(p).cpus(64, 4096).build();
            Set<Integer> heldModules = new HashSet<>();
            int used = 0;
            int[] sizes = {1, 1, 1, 2, 2, 4};
            for (int step = 0; step < 40; step++) {
                int size = sizes[rnd.nextInt(sizes.length)];
                PlacementDecision d = policy().decide(gpus(p.model(), size), List.of(h));
                if (!d.placed()) {
                    continue;
                }
                Placement pl = d.candidates().get(0);
                Set<Integer> members = p.table().byId(partitionId(h, pl)).moduleIds();
                assertThat(Collections.disjoint(members, heldModules)).as("%s overlaps %s", members, heldModules).isTrue();
                heldModules.addAll(members);
                used += size;
                h = TestHosts.apply(h, pl);
            }
            // finish with single GPUs: every GPU must be usable in the end
            while (true) {
                PlacementDecision d = policy().decide(gpus(p.model(), 1), List.of(h));
                if (!d.placed()) {
                    break;
                }
                h = TestHosts.apply(h, d.candidates().get(0));
                used++;
            }
            assertThat(used).isEqualTo(p.gpus());
        }
    }

    static Stream<Platform> platforms() {
        return TestHosts.platforms().stream();
    }

    @ParameterizedTest(name = "{0}: a missing GPU removes its partitions, the others stay usable")
    @MethodSource("platforms")
    void degradedBoardWithMissingGpu(Platform p) {
        int gone = p.gpus(); // the last module
        HostSnapshot h = TestHosts.hgx(p).missing(gone).build();
        for (int size = 1; size <= p.gpus(); size *= 2) {
            assertThat(freeUnitIds(h, size)).as("size %d", size)
                    .isEqualTo(expectedFree(p, Set.of(), Set.of(gone), size));
        }
        PlacementDecision whole = policy().decide(gpus(p.model(), p.gpus()), List.of(h));
        assertThat(whole.placed()).isFalse();
        assertThat(whole.explanation()).contains("1 lack a free " + p.gpus() + "-GPU partition");
    }

    @ParameterizedTest(name = "{0}: an unhealthy GPU is never allocated, even if its partitions are still listed")
    @MethodSource("platforms")
    void unhealthyGpuBlocksItsPartitions(Platform p) {
        HostSnapshot h = TestHosts.hgx(p).unhealthy(1).build();
        for (int size = 1; size <= p.gpus(); size *= 2) {
            assertThat(freeUnitIds(h, size)).isEqualTo(expectedFree(p, Set.of(1), Set.of(), size));
        }
        Set<Long> given = new HashSet<>();
        HostSnapshot cur = h;
        while (true) {
            PlacementDecision d = policy().decide(gpus(p.model(), 1), List.of(cur));
            if (!d.placed()) {
                break;
            }
            given.addAll(d.candidates().get(0).gpuDeviceIds());
            cur = TestHosts.apply(cur, d.candidates().get(0));
        }
        assertThat(given).hasSize(p.gpus() - 1);
        long bad = h.gpus().stream().filter(g -> g.moduleId() == 1).findFirst().orElseThrow().deviceId();
        assertThat(given).doesNotContain(bad);
    }

    @Test
    void placementNamesThePartitionMembersByDeviceId() {
        HostSnapshot h = TestHosts.h100().hold(4).build();
        PlacementDecision d = policy().decide(gpus(TestHosts.H100, 2), List.of(h));
        Placement p = d.candidates().get(0);
        assertThat(p.partitionRowId()).isEqualTo(h.partitions().get(3).rowId());
        Set<Long> expected = new HashSet<>();
        for (GpuSnapshot g : h.gpus()) {
            if (g.moduleId() == 1 || g.moduleId() == 3) {
                expected.add(g.deviceId());
            }
        }
        assertThat(p.gpuDeviceIds()).containsExactlyInAnyOrderElementsOf(expected);
        assertThat(p.hostId()).isEqualTo(h.hostId());
    }
}
