package io.gpucloud.placement;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.gpucloud.placement.TestHosts.H100;
import static io.gpucloud.placement.TestHosts.partitionId;
import static io.gpucloud.placement.TestHosts.policy;
import static io.gpucloud.placement.TestHosts.request;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * NUMA rules on an H100 whose modules 1-4 sit on node 0 and 5-8 on node 1, with interleaved CPU
 * numbering (even CPUs node 0, odd node 1; with 32 cores per node CPU c and c+64 are siblings).
 */
class NumaTest {

    private static Placement place(HostSnapshot h, PlacementRequest r) {
        PlacementDecision d = policy().decide(r, List.of(h));
        assertThat(d.placed()).as(d.explanation()).isTrue();
        return d.candidates().get(0);
    }

    @Test
    void twoGpuVmGetsCpusAndHugepagesFromItsGpusNodeWithInterleavedNumbering() {
        HostSnapshot h = TestHosts.h100().build();
        Placement p = place(h, request(H100, 2, 16, 64 * 1024, NumaPolicy.REQUIRED, false, null));
        assertThat(partitionId(h, p)).isEqualTo(3); // {1,3}, node 0
        assertThat(p.cpuIds()).hasSize(16).allMatch(c -> c % 2 == 0);
        assertThat(p.hugepagesByNode()).isEqualTo(Map.of(0, 64));
        assertThat(new HashSet<>(p.cpuIds())).hasSize(16);
    }

    @Test
    void eightGpuVmSplitsCpusAndHugepagesOverBothNodes() {
        HostSnapshot h = TestHosts.h100().build();
        Placement p = place(h, request(H100, 8, 32, 200 * 1024, NumaPolicy.REQUIRED, false, null));
        assertThat(p.cpuIds().stream().filter(c -> c % 2 == 0)).hasSize(16);
        assertThat(p.cpuIds().stream().filter(c -> c % 2 == 1)).hasSize(16);
        assertThat(p.hugepagesByNode()).isEqualTo(Map.of(0, 100, 1, 100));
        assertThat(p.gpuDeviceIds()).hasSize(8);
    }

    @Test
    void sharedVcpusFillBrokenCoresFirstAndKeepWholeCoresFree() {
        // CPUs 64 and 66 are taken: their siblings 0 and 2 sit in broken cores
        HostSnapshot h = TestHosts.h100().takeCpus(64, 66).build();
        Placement p = place(h, request(H100, 1, 4, 1024, NumaPolicy.REQUIRED, false, null));
        assertThat(p.cpuIds()).startsWith(0, 2);
        // then whole cores, both siblings together
        assertThat(p.cpuIds().subList(2, 4)).containsExactly(4, 68);
    }

    @Test
    void dedicatedCoresTakeWholeCoresWithTheirSiblings() {
        HostSnapshot h = TestHosts.h100().takeCpus(64).build(); // core 0 broken
        Placement p = place(h, request(H100, 1, 6, 1024, NumaPolicy.REQUIRED, true, null));
        assertThat(p.cpuIds()).containsExactly(2, 66, 4, 68, 6, 70);
        // an odd vCPU count still takes whole cores
        Placement odd = place(h, request(H100, 1, 3, 1024, NumaPolicy.REQUIRED, true, null));
        assertThat(odd.cpuIds()).containsExactly(2, 66, 4, 68);
    }

    @Test
    void dedicatedCoresCountOnlyWholeFreeCores() {
        // node 0 has 32 cores; break 30 of them by taking one sibling each -> 2 whole cores (4 threads) left
        List<Integer> taken = new ArrayList<>();
        for (int core = 0; core < 60; core += 2) {
            taken.add(core + 64);
        }
        HostSnapshot h = TestHosts.h100().takeCpus(taken.toArray(Integer[]::new)).holdModules(5, 6, 7, 8).build();
        PlacementRequest dedicated = request(H100, 1, 8, 1024, NumaPolicy.REQUIRED, true, null);
        PlacementDecision d = policy().decide(dedicated, List.of(h));
        assertThat(d.placed()).isFalse();
        assertThat(d.rejections()).containsEntry("numa-cpus", 1);
        assertThat(d.explanation()).contains("1 lack 8 NUMA-local CPUs in whole cores");
        // shared vCPUs fit (34 free logical CPUs on node 0)
        assertThat(policy().decide(request(H100, 1, 8, 1024, NumaPolicy.REQUIRED, false, null), List.of(h)).placed())
                .isTrue();
    }

    @Test
    void requiredRejectsWhenTheGpusNodeLacksCpusPreferredSpills() {
        // node 0: only 4 free CPUs; node 1 GPUs all held, so only node-0 GPUs remain
        List<Integer> taken = new ArrayList<>();
        for (int c = 0; c < 128; c += 2) {
            taken.add(c);
        }
        taken.removeAll(List.of(0, 2, 4, 6));
        HostSnapshot h = TestHosts.h100().takeCpus(taken.toArray(Integer[]::new)).hold(2).build();
        PlacementDecision req = policy().decide(request(H100, 2, 8, 1024, NumaPolicy.REQUIRED, false, null), List.of(h));
        assertThat(req.placed()).isFalse();
        assertThat(req.explanation()).isEqualTo("1 host H100-SXM5-80GB ready; 1 lack 8 NUMA-local CPUs; "
                + "none fits a 2-GPU VM with 8 vCPUs and 1 GiB");
        Placement p = place(h, request(H100, 2, 8, 1024, NumaPolicy.PREFERRED, false, null));
        assertThat(p.cpuIds()).hasSize(8);
        assertThat(p.cpuIds().subList(0, 4)).containsExactlyInAnyOrder(0, 2, 4, 6); // local first
        assertThat(p.cpuIds().subList(4, 8)).allMatch(c -> c % 2 == 1); // then spill
        assertThat(p.score()).isGreaterThan(0);
    }

    @Test
    void requiredChoosesTheUnitWhoseNodeHasRoom() {
        List<Integer> taken = new ArrayList<>();
        for (int c = 0; c < 128; c += 2) {
            taken.add(c); // node 0 has no free CPU at all
        }
        HostSnapshot h = TestHosts.h100().takeCpus(taken.toArray(Integer[]::new)).build();
        Placement p = place(h, request(H100, 2, 8, 1024, NumaPolicy.REQUIRED, false, null));
        assertThat(partitionId(h, p)).isIn(5, 6); // a node-1 pair
        assertThat(p.cpuIds()).allMatch(c -> c % 2 == 1);
    }

    @Test
    void preferredPicksTheLocalUnitWhenOneExists() {
        HostSnapshot h = TestHosts.h100().takeHugepages(0, 500).build(); // node 0: 12 pages left
        Placement p = place(h, request(H100, 2, 8, 100 * 1024, NumaPolicy.PREFERRED, false, null));
        assertThat(partitionId(h, p)).isIn(5, 6);
        assertThat(p.hugepagesByNode()).isEqualTo(Map.of(1, 100));
    }

    @Test
    void hugepagesRequiredOnTheGpusNodes() {
        HostSnapshot h = TestHosts.h100().takeHugepages(0, 500).hold(2).build();
        PlacementDecision d = policy().decide(request(H100, 1, 2, 100 * 1024, NumaPolicy.REQUIRED, false, null),
                List.of(h));
        assertThat(d.placed()).isFalse();
        assertThat(d.rejections()).containsEntry("numa-hugepages", 1);
        assertThat(d.explanation()).contains("1 lack 100 NUMA-local 1 GiB hugepages");
        Placement p = place(h, request(H100, 1, 2, 100 * 1024, NumaPolicy.PREFERRED, false, null));
        assertThat(p.hugepagesByNode()).isEqualTo(Map.of(0, 12, 1, 88));
    }

    @Test
    void gpusWithUnknownNumaNodeCannotHonourRequired() {
        HostSnapshot h = TestHosts.h100().unknownNuma().build();
        assertThat(policy().decide(request(H100, 1, 2, 1024, NumaPolicy.REQUIRED, false, null), List.of(h)).placed())
                .isFalse();
        assertThat(policy().decide(request(H100, 1, 2, 1024, NumaPolicy.PREFERRED, false, null), List.of(h)).placed())
                .isTrue();
    }

    @Test
    void gpusSpanFewNodesWhenVendorsMixThem() {
        // a vendor whose pairs {1,3} and {2,4} straddle the two sockets, {5,7} and {6,8} do not
        TestHosts.HostBuilder b = TestHosts.h100();
        b.numaOfModule = m -> m == 3 || m == 4 ? 1 : (m <= 4 ? 0 : 1);
        HostSnapshot h = b.build();
        Placement p = place(h, request(H100, 2, 4, 1024, NumaPolicy.PREFERRED, false, null));
        assertThat(partitionId(h, p)).isIn(5, 6);
    }

    @Test
    void cpuOnlyRequiredFitsOnOneNode() {
        HostSnapshot cpuHost = cpuHost(8, 64);
        PlacementDecision fits = policy().decide(request(null, 0, 16, 1024, NumaPolicy.REQUIRED, false, null),
                List.of(cpuHost));
        Placement p = fits.candidates().get(0);
        Set<Integer> parity = new HashSet<>();
        p.cpuIds().forEach(c -> parity.add(c % 2));
        assertThat(parity).hasSize(1);
        assertThat(p.hugepagesByNode()).hasSize(1);
        // 20 vCPUs do not fit one 16-thread node under REQUIRED, but spill under PREFERRED
        assertThat(policy().decide(request(null, 0, 20, 1024, NumaPolicy.REQUIRED, false, null), List.of(cpuHost))
                .explanation()).contains("1 lack 20 CPUs free on one NUMA node");
        assertThat(policy().decide(request(null, 0, 20, 1024, NumaPolicy.PREFERRED, false, null), List.of(cpuHost))
                .candidates().get(0).cpuIds()).hasSize(20);
    }

    static HostSnapshot cpuHost(int coresPerNode, int hugepagesPerNode) {
        return new HostSnapshot(new java.util.UUID(1, coresPerNode), "cpu-" + coresPerNode, "fra1", "ready", "x86",
                null, "NONE", "passthrough", true, List.of(), List.of(),
                TestHosts.interleavedNuma(coresPerNode, Set.of(), hugepagesPerNode, new int[2]), List.of());
    }
}
