package io.gpucloud.placement;

import io.gpucloud.placement.TestHosts.Platform;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

import static io.gpucloud.placement.TestHosts.H100;
import static io.gpucloud.placement.TestHosts.gpus;
import static io.gpucloud.placement.TestHosts.policy;
import static io.gpucloud.placement.TestHosts.request;
import static org.assertj.core.api.Assertions.assertThat;

/** Static filters, best fit across hosts, empty boards kept for whole-board VMs, lifetimes, CPU-only VMs. */
class HostChoiceTest {

    static Stream<Platform> platforms() {
        return TestHosts.platforms().stream();
    }

    @ParameterizedTest(name = "{0}: best fit fills the fullest host that fits")
    @MethodSource("platforms")
    void bestFitPrefersPartlyUsedHosts(Platform p) {
        HostSnapshot empty = TestHosts.hgx(p).name("empty").build();
        // a host with everything but one pair held, and one with half the board held
        TestHosts.HostBuilder almost = TestHosts.hgx(p).name("almost");
        PartitionTables.Entry lastPair = null;
        for (PartitionTables.Entry e : p.table().entries()) {
            if (e.moduleIds().size() == 2) {
                lastPair = e;
            }
        }
        for (PartitionTables.Entry e : p.table().entries()) {
            if (e.moduleIds().size() == 2 && e != lastPair) {
                almost.hold(e.partitionId());
            }
        }
        HostSnapshot almostFull = almost.build();
        PartitionTables.Entry firstHalf = p.table().entries().stream().filter(e -> e.moduleIds().size() == p.gpus() / 2)
                .findFirst().orElseThrow();
        HostSnapshot half = TestHosts.hgx(p).name("half").hold(firstHalf.partitionId()).build();
        List<HostSnapshot> hosts = List.of(empty, half, almostFull);

        PlacementDecision two = policy().decide(gpus(p.model(), 2), hosts);
        assertThat(two.candidates()).extracting(Placement::hostId)
                .containsExactly(almostFull.hostId(), half.hostId(), empty.hostId());
        PlacementDecision one = policy().decide(gpus(p.model(), 1), hosts);
        assertThat(one.candidates().get(0).hostId()).isEqualTo(almostFull.hostId());
        PlacementDecision whole = policy().decide(gpus(p.model(), p.gpus()), hosts);
        assertThat(whole.candidates()).extracting(Placement::hostId).containsExactly(empty.hostId());
    }

    @ParameterizedTest(name = "{0}: untouched boards are kept for whole-board VMs")
    @MethodSource("platforms")
    void emptyBoardsAreOpenedOnlyWhenNothingElseFits(Platform p) {
        HostSnapshot empty1 = TestHosts.hgx(p).build();
        HostSnapshot empty2 = TestHosts.hgx(p).build();
        int quarter = p.gpus() / 4;
        PartitionTables.Entry q = p.table().entries().stream().filter(e -> e.moduleIds().size() == quarter)
                .findFirst().orElseThrow();
        HostSnapshot used = TestHosts.hgx(p).hold(q.partitionId()).build();
        List<HostSnapshot> hosts = List.of(empty1, used, empty2);
        // a half-board VM still fits next to the quarter that is taken
        assertThat(policy().decide(gpus(p.model(), p.gpus() / 2), hosts).candidates().get(0).hostId())
                .isEqualTo(used.hostId());
        // when nothing partly used fits, an empty board is opened rather than refusing
        HostSnapshot full = TestHosts.hgx(p).hold(p.table().entries().get(0).partitionId()).build();
        PlacementDecision d = policy().decide(gpus(p.model(), 1), List.of(full, empty1));
        assertThat(d.candidates()).extracting(Placement::hostId).containsExactly(empty1.hostId());
    }

    @Test
    void staticFiltersAreCountedInOrder() {
        HostSnapshot ok = TestHosts.h100().build();
        HostSnapshot draining = TestHosts.h100().state("draining").build();
        HostSnapshot b200 = TestHosts.hgx(TestHosts.B200_PLATFORM).build();
        HostSnapshot elsewhere = TestHosts.h100().location("ams1").build();
        HostSnapshot mig = TestHosts.h100().virt("mig").build();
        HostSnapshot noIommu = TestHosts.h100().passthrough(false).build();
        HostSnapshot unknownFabric = TestHosts.h100().fabric("WHATEVER").build();
        List<HostSnapshot> hosts = List.of(draining, b200, elsewhere, mig, noIommu, unknownFabric, ok);
        PlacementRequest r = new PlacementRequest(UUID.randomUUID(), H100, 2, 8, 8192, "fra1", Set.of(),
                NumaPolicy.PREFERRED, false, null);
        PlacementDecision d = policy().decide(r, hosts);
        assertThat(d.candidates()).extracting(Placement::hostId).containsExactly(ok.hostId());
        assertThat(d.rejections()).containsExactly(
                java.util.Map.entry("host-state", 1), java.util.Map.entry("gpu-model", 1),
                java.util.Map.entry("location", 1), java.util.Map.entry("host-ids", 0),
                java.util.Map.entry("boot-image", 0), java.util.Map.entry("fabric-mode", 1), java.util.Map.entry("virtualization-mode", 1),
                java.util.Map.entry("passthrough-capable", 1), java.util.Map.entry("gpu-partition", 0),
                java.util.Map.entry("gpu-iommu-groups", 0), java.util.Map.entry("gpu-whole-board", 0),
                java.util.Map.entry("numa-cpus", 0), java.util.Map.entry("numa-hugepages", 0),
                java.util.Map.entry("reserved-empty-hosts", 0));
        assertThat(d.explanation()).startsWith("7 hosts considered: 1 not ready, 1 have another GPU model, "
                + "1 are outside fra1, 1 take only whole-board VMs (full passthrough) or have an unknown fabric mode, "
                + "1 are not in passthrough mode, 1 are not passthrough-capable; 1 host H100-SXM5-80GB ready; 1 fits; best ");

        PlacementRequest pinned = new PlacementRequest(UUID.randomUUID(), H100, 2, 8, 8192, null,
                Set.of(draining.hostId(), ok.hostId()), NumaPolicy.PREFERRED, false, null);
        assertThat(policy().decide(pinned, hosts).rejections()).containsEntry("host-ids", 4);
    }

    @Test
    void aVmGoesOnlyWhereItsBootImageIsAndSaysSoWhenNoHostHasIt() {
        String ubuntu = "/var/lib/gpucloud/images/ubuntu-24.04.qcow2";
        String debian = "/var/lib/gpucloud/images/debian-12.qcow2";
        // the fullest board would win on best fit, but it lacks the image
        HostSnapshot fullestWithoutImage = TestHosts.h100().hold(1).hold(5).bootImages(debian).build(); // 2 free
        HostSnapshot emptyWithImage = TestHosts.h100().bootImages(ubuntu, debian).build();
        HostSnapshot silent = TestHosts.h100().hold(1).build(); // 4 free; an older worker, which reports nothing
        PlacementRequest r = new PlacementRequest(UUID.randomUUID(), H100, 1, 4, 16 * 1024, null, Set.of(),
                NumaPolicy.PREFERRED, false, null, ubuntu);

        PlacementDecision d = policy().decide(r, List.of(fullestWithoutImage, emptyWithImage, silent));
        assertThat(d.candidates()).extracting(Placement::hostId).doesNotContain(fullestWithoutImage.hostId())
                .first().isEqualTo(silent.hostId());
        assertThat(d.rejections()).containsEntry("boot-image", 1);
        assertThat(policy().decide(r, List.of(fullestWithoutImage, emptyWithImage)).candidates())
                .extracting(Placement::hostId).containsExactly(emptyWithImage.hostId());

        PlacementDecision none = policy().decide(r, List.of(fullestWithoutImage));
        assertThat(none.placed()).isFalse();
        assertThat(none.explanation()).isEqualTo("1 host considered: 1 lack the boot image ubuntu-24.04.qcow2"
                + "; 0 hosts H100-SXM5-80GB ready; none fits a 1-GPU VM with 4 vCPUs and 16 GiB");

        // without a boot image (no disk) any host will do
        PlacementRequest diskless = new PlacementRequest(UUID.randomUUID(), H100, 1, 4, 16 * 1024, null, Set.of(),
                NumaPolicy.PREFERRED, false, null);
        assertThat(policy().decide(diskless, List.of(fullestWithoutImage)).placed()).isTrue();
    }

    @Test
    void explanationInNumbersWhenNothingFits() {
        List<HostSnapshot> hosts = new java.util.ArrayList<>();
        for (int i = 0; i < 9; i++) {
            hosts.add(TestHosts.h100().hold(3).hold(5).build()); // a pair in each half: no free 4-GPU partition
        }
        for (int i = 0; i < 3; i++) {
            hosts.add(TestHosts.h100().cpus(16, 512).build()); // 32 threads per node
        }
        hosts.add(TestHosts.h100().state("maintenance").build());
        hosts.add(TestHosts.hgx(TestHosts.B200_PLATFORM).build());
        PlacementRequest r = request(H100, 4, 64, 64 * 1024, NumaPolicy.REQUIRED, false, null);
        PlacementDecision d = policy().decide(r, hosts);
        assertThat(d.placed()).isFalse();
        assertThat(d.explanation()).isEqualTo("14 hosts considered: 1 not ready, 1 have another GPU model; "
                + "12 hosts H100-SXM5-80GB ready; 9 lack a free 4-GPU partition; 3 lack 64 NUMA-local CPUs; "
                + "none fits a 4-GPU VM with 64 vCPUs and 64 GiB");
        assertThat(d.rejections()).containsEntry("gpu-partition", 9).containsEntry("numa-cpus", 3);
    }

    @Test
    void lifetimeHintPrefersHostsWhoseVmsEndTogether() {
        // two identical partly used hosts; A's VMs end within the hour, B's in five hours
        HostSnapshot a = TestHosts.h100().name("a").hold(3).endsIn(Duration.ofMinutes(50)).build();
        HostSnapshot b = TestHosts.h100().name("b").hold(3).endsIn(Duration.ofHours(5)).build();
        List<HostSnapshot> hosts = List.of(a, b);
        PlacementRequest longVm = request(H100, 2, 4, 1024, NumaPolicy.PREFERRED, false, Duration.ofHours(4));
        assertThat(policy().decide(longVm, hosts).candidates().get(0).hostId()).isEqualTo(b.hostId());
        PlacementRequest shortVm = request(H100, 2, 4, 1024, NumaPolicy.PREFERRED, false, Duration.ofMinutes(40));
        assertThat(policy().decide(shortVm, hosts).candidates().get(0).hostId()).isEqualTo(a.hostId());
        // without a hint the two hosts tie and the first wins
        PlacementRequest noHint = request(H100, 2, 4, 1024, NumaPolicy.PREFERRED, false, null);
        assertThat(policy().decide(noHint, List.of(b, a)).candidates().get(0).hostId()).isEqualTo(b.hostId());
        assertThat(policy().decide(noHint, List.of(a, b)).candidates().get(0).hostId()).isEqualTo(a.hostId());
    }

    @Test
    void lifetimeNeverOutweighsOpeningAnEmptyBoard() {
        HostSnapshot used = TestHosts.h100().hold(3).endsIn(Duration.ofMinutes(1)).build();
        HostSnapshot empty = TestHosts.h100().build();
        PlacementRequest longVm = request(H100, 2, 4, 1024, NumaPolicy.PREFERRED, false, Duration.ofHours(10));
        assertThat(policy().decide(longVm, List.of(empty, used)).candidates().get(0).hostId())
                .isEqualTo(used.hostId());
    }

    @Test
    void cpuOnlyVmsAvoidGpuHostsButStillLandOnThem() {
        HostSnapshot gpuHost = TestHosts.h100().build();
        HostSnapshot cpuHost = NumaTest.cpuHost(16, 256);
        PlacementRequest cpuOnly = request(null, 0, 8, 8 * 1024, NumaPolicy.PREFERRED, false, null);
        PlacementDecision d = policy().decide(cpuOnly, List.of(gpuHost, cpuHost));
        assertThat(d.candidates()).extracting(Placement::hostId).containsExactly(cpuHost.hostId(), gpuHost.hostId());
        assertThat(d.candidates().get(0).partitionRowId()).isNull();
        assertThat(d.candidates().get(0).gpuDeviceIds()).isEmpty();
        assertThat(d.candidates().get(1).score()).isGreaterThanOrEqualTo(100);
        // only GPU hosts: it still lands
        assertThat(policy().decide(cpuOnly, List.of(gpuHost)).placed()).isTrue();
        // the CPU host is full: it goes to the GPU host
        PlacementRequest big = request(null, 0, 80, 8 * 1024, NumaPolicy.PREFERRED, false, null);
        assertThat(policy().decide(big, List.of(cpuHost, gpuHost)).candidates()).extracting(Placement::hostId)
                .containsExactly(gpuHost.hostId());
    }

    @Test
    void gpuVmsNeverLandOnCpuHosts() {
        PlacementDecision d = policy().decide(request(null, 1, 2, 1024, NumaPolicy.PREFERRED, false, null),
                List.of(NumaTest.cpuHost(16, 256)));
        assertThat(d.placed()).isFalse();
        assertThat(d.explanation()).contains("1 lack 1 free GPUs in whole IOMMU groups");
    }

    @Test
    void candidatesAreRankedAtMostOnePerHostAndCapped() {
        List<HostSnapshot> hosts = new java.util.ArrayList<>();
        for (int i = 0; i < 40; i++) {
            hosts.add(TestHosts.h100().build());
        }
        PlacementDecision d = policy().decide(gpus(H100, 1), hosts);
        assertThat(d.candidates()).hasSize(PlacementPolicy.DEFAULT_MAX_CANDIDATES);
        assertThat(d.candidates()).extracting(Placement::hostId).doesNotHaveDuplicates();
        assertThat(d.candidates()).extracting(Placement::score).isSorted();
        assertThat(d.explanation()).contains("40 fit");
    }

    @Test
    void noHostsAndSizesWithoutAPartition() {
        PlacementDecision none = policy().decide(gpus(H100, 2), List.of());
        assertThat(none.placed()).isFalse();
        assertThat(none.explanation()).isEqualTo("0 hosts H100-SXM5-80GB ready; none fits a 2-GPU VM with 8 vCPUs and 32 GiB");
        PlacementDecision three = policy().decide(gpus(H100, 3), List.of(TestHosts.h100().build()));
        assertThat(three.explanation()).contains("1 lack a free 3-GPU partition");
    }

    @Test
    void decideIsPureAndThreadSafe() throws Exception {
        List<HostSnapshot> hosts = new java.util.ArrayList<>();
        for (int i = 0; i < 30; i++) {
            hosts.add(TestHosts.h100().hold(3 + i % 4).endsIn(Duration.ofMinutes(10 + i)).build());
        }
        PlacementPolicy policy = policy();
        PlacementRequest r = request(H100, 2, 8, 8192, NumaPolicy.PREFERRED, true, Duration.ofMinutes(25));
        PlacementDecision expected = policy.decide(r, hosts);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
        try {
            List<java.util.concurrent.Future<PlacementDecision>> fs = new java.util.ArrayList<>();
            for (int i = 0; i < 64; i++) {
                fs.add(pool.submit(() -> policy.decide(r, hosts)));
            }
            for (var f : fs) {
                assertThat(f.get()).isEqualTo(expected);
            }
        } finally {
            pool.shutdown();
        }
    }
}
