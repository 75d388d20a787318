package io.gpucloud.controlplane.placement;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.placement.NumaPolicy;
import io.gpucloud.placement.PlacementRequest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Candidate selection reads the fleet cache's index of hosts by free GPUs instead of every host of a
 * model. These cases check that it still proposes what the policy expects: best fit first, empty
 * boards last for smaller GPU requests and kept for whole-board ones, GPU hosts last for CPU-only
 * VMs, hosts being claimed on last, and nothing that does not fit; and that the index follows
 * every change of a host's counters.
 */
class FleetCacheCandidatesTest {

    private static final String H100 = "H100-SXM5-80GB";

    private final Map<String, Integer> locations = new HashMap<>();
    private final AtomicInteger nextLocation = new AtomicInteger();
    private final Random random = new Random(7);

    private static FleetCache.HostRow host(String location, int totalGpus, int usedGpus, int freeCpus, String state) {
        return host(location, totalGpus, usedGpus, freeCpus, state, null);
    }

    private static FleetCache.HostRow host(String location, int totalGpus, int usedGpus, int freeCpus, String state,
                                           Set<String> bootImages) {
        return new FleetCache.HostRow(UUID.randomUUID(), state, totalGpus == 0 ? null : H100, location, true,
                "passthrough", "ready", Instant.EPOCH, 1, totalGpus, usedGpus, 224, 224 - freeCpus, 2_000_000, 0,
                1_800, 0, bootImages);
    }

    private static FleetCache.HostRow host(int totalGpus, int usedGpus) {
        return host("dc-1", totalGpus, usedGpus, 200, "ready");
    }

    private FleetCache.Group group(List<FleetCache.HostRow> rows) {
        FleetCache.Slot[] slots = rows.stream().map(r -> new FleetCache.Slot(new FleetCache.Entry(r, null)))
                .toArray(FleetCache.Slot[]::new);
        FleetCache.Group g = new FleetCache.Group(slots, locations, nextLocation);
        for (int i = 0; i < slots.length; i++) {
            slots[i].group = g;
            slots[i].index = i;
            g.publish(i, rows.get(i));
        }
        return g;
    }

    private static PlacementRequest request(int gpus, int vcpus) {
        return new PlacementRequest(UUID.randomUUID(), gpus == 0 ? null : H100, gpus, vcpus, 8L * 1024, null,
                Set.of(), NumaPolicy.REQUIRED, false, null);
    }

    private List<Integer> freeGpusOf(List<FleetCache.Group> pool, PlacementRequest r, int limit) {
        return FleetCache.pick(pool, r, FleetCache.ANY_LOCATION, limit, random).stream()
                .map(s -> s.entry.row().totalGpus() - s.entry.row().usedGpus()).toList();
    }

    @Test
    void fullestHostThatFitsComesFirstAndEmptyBoardsLast() {
        FleetCache.Group g = group(List.of(host(8, 0), host(8, 5), host(8, 7), host(8, 6), host(8, 8), host(8, 0)));
        // free GPUs: 8 (empty), 3, 1, 2, 0 (full), 8 (empty)
        assertThat(freeGpusOf(List.of(g), request(1, 8), 8)).containsExactly(1, 2, 3, 8, 8);
        assertThat(freeGpusOf(List.of(g), request(2, 8), 8)).containsExactly(2, 3, 8, 8);
        assertThat(freeGpusOf(List.of(g), request(1, 8), 2)).containsExactly(1, 2);
    }

    @Test
    void aWholeBoardRequestGetsOnlyEmptyBoards() {
        FleetCache.Group g = group(List.of(host(8, 1), host(8, 0), host(8, 4), host(8, 0)));
        List<FleetCache.Slot> picked = FleetCache.pick(List.of(g), request(8, 8), FleetCache.ANY_LOCATION, 8, random);
        assertThat(picked).hasSize(2).allMatch(s -> s.entry.row().usedGpus() == 0);
    }

    @Test
    void cpuOnlyVmsGoToHostsWithoutGpusFirst() {
        FleetCache.Group gpuHosts = group(List.of(host(8, 3), host(8, 0)));
        FleetCache.Group cpuHosts = group(List.of(host(0, 0), host(0, 0)));
        List<FleetCache.Slot> picked = FleetCache.pick(List.of(gpuHosts, cpuHosts), request(0, 16),
                FleetCache.ANY_LOCATION, 8, random);
        assertThat(picked).hasSize(4);
        assertThat(picked.subList(0, 2)).allMatch(s -> s.entry.row().totalGpus() == 0);
        assertThat(picked.subList(2, 4)).allMatch(s -> s.entry.row().totalGpus() == 8);
    }

    @Test
    void hostsThatDoNotFitOrDoNotTakeVmsAreNeverProposed() {
        FleetCache.Group g = group(List.of(host("dc-1", 8, 4, 4, "ready"), host("dc-1", 8, 4, 200, "draining"),
                host("dc-2", 8, 4, 200, "ready"), host("dc-1", 8, 4, 200, "ready")));
        PlacementRequest r = new PlacementRequest(UUID.randomUUID(), H100, 2, 24, 8L * 1024, "dc-1", Set.of(),
                NumaPolicy.REQUIRED, false, null);
        List<FleetCache.Slot> picked = FleetCache.pick(List.of(g), r, locations.get("dc-1"), 8, random);
        assertThat(picked).singleElement().satisfies(s -> assertThat(s).isSameAs(g.slots[3]));
    }

    @Test
    void hostsThatReportedTheirImagesWithoutTheVmsAreNeverProposed() {
        String ubuntu = "/var/lib/gpucloud/images/ubuntu-24.04.qcow2";
        FleetCache.HostRow without = host("dc-1", 8, 7, 200, "ready", Set.of("/var/lib/gpucloud/images/debian-12.qcow2"));
        FleetCache.HostRow with = host("dc-1", 8, 5, 200, "ready", Set.of(ubuntu));
        FleetCache.HostRow silent = host("dc-1", 8, 6, 200, "ready", null);
        FleetCache.Group g = group(List.of(without, with, silent));
        PlacementRequest r = new PlacementRequest(UUID.randomUUID(), H100, 1, 4, 8L * 1024, null, Set.of(),
                NumaPolicy.REQUIRED, false, null, ubuntu);
        assertThat(FleetCache.pick(List.of(g), r, FleetCache.ANY_LOCATION, 8, random))
                .containsExactly(g.slots[2], g.slots[1]); // best fit among those that may hold it
        assertThat(FleetCache.pick(List.of(g), request(1, 4), FleetCache.ANY_LOCATION, 8, random))
                .as("a VM without a boot image goes anywhere").startsWith(g.slots[0]);
    }

    @Test
    void aHostAnotherThreadIsClaimingOnRanksLast() throws Exception {
        FleetCache.Group g = group(List.of(host(8, 7), host(8, 6), host(8, 5)));
        Thread claimer = new Thread(() -> g.slots[0].claiming.lock());
        claimer.start();
        claimer.join();
        List<FleetCache.Slot> picked = FleetCache.pick(List.of(g), request(1, 8), FleetCache.ANY_LOCATION, 8, random);
        assertThat(picked).containsExactly(g.slots[1], g.slots[2], g.slots[0]);
        assertThat(FleetCache.pick(List.of(g), request(1, 8), FleetCache.ANY_LOCATION, 2, random))
                .containsExactly(g.slots[1], g.slots[2]);
    }

    @Test
    void theIndexFollowsEveryChangeOfAHost() {
        FleetCache.HostRow empty = host(8, 0);
        FleetCache.Group g = group(List.of(empty, host(8, 4)));
        FleetCache.Slot slot = g.slots[0];
        slot.set(new FleetCache.Entry(empty.withUsage(2, 7, 8, 1024, 1), null)); // one GPU left
        assertThat(g.setsOf(0)).containsExactly(1 * 2); // partly used, 1 free
        assertThat(FleetCache.pick(List.of(g), request(1, 8), FleetCache.ANY_LOCATION, 8, random).get(0))
                .isSameAs(slot);
        slot.set(new FleetCache.Entry(empty.withUsage(3, 8, 8, 1024, 1), null)); // full
        assertThat(g.setsOf(0)).containsExactly(0);
        assertThat(FleetCache.pick(List.of(g), request(1, 8), FleetCache.ANY_LOCATION, 8, random))
                .containsExactly(g.slots[1]);
        slot.set(new FleetCache.Entry(empty.withUsage(4, 0, 0, 0, 0), null)); // released: empty again
        assertThat(g.setsOf(0)).containsExactly(8 * 2 + 1);
        assertThat(FleetCache.pick(List.of(g), request(8, 8), FleetCache.ANY_LOCATION, 8, random))
                .containsExactly(slot);
        slot.set(new FleetCache.Entry(new FleetCache.HostRow(empty.id(), "draining", H100, "dc-1", true, "passthrough",
                "ready", Instant.EPOCH, 5, 8, 0, 224, 0, 2_000_000, 0, 1_800, 0, null), null));
        assertThat(g.setsOf(0)).isEmpty(); // takes no VMs: in no set
        assertThat(FleetCache.pick(List.of(g), request(8, 8), FleetCache.ANY_LOCATION, 8, random)).isEmpty();
    }

    @Test
    void concurrentRequestsAreSpreadOverEqualHosts() {
        List<FleetCache.HostRow> rows = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            rows.add(host(8, 4));
        }
        FleetCache.Group g = group(rows);
        Set<FleetCache.Slot> firsts = new HashSet<>();
        for (int i = 0; i < 50; i++) {
            firsts.add(FleetCache.pick(List.of(g), request(2, 8), FleetCache.ANY_LOCATION, 4, random).get(0));
        }
        assertThat(firsts).hasSizeGreaterThan(20);
    }

    /** Against a plain scan of every host: the same hosts, in best-fit order, for random fleets and requests. */
    @Test
    void proposesWhatAFullScanWouldInBestFitOrder() {
        for (int round = 0; round < 200; round++) {
            List<FleetCache.HostRow> rows = new ArrayList<>();
            int hosts = 1 + random.nextInt(300);
            for (int i = 0; i < hosts; i++) {
                int total = random.nextInt(10) == 0 ? 4 : 8;
                rows.add(host(random.nextBoolean() ? "dc-1" : "dc-2", total, random.nextInt(total + 1),
                        random.nextInt(225), random.nextInt(20) == 0 ? "maintenance" : "ready"));
            }
            FleetCache.Group g = group(rows);
            int gpus = new int[] {1, 2, 4, 8}[random.nextInt(4)];
            PlacementRequest r = request(gpus, 12 * gpus);
            List<FleetCache.Slot> picked = FleetCache.pick(List.of(g), r, FleetCache.ANY_LOCATION, hosts, random);

            Comparator<FleetCache.HostRow> bestFit = Comparator
                    .comparingInt((FleetCache.HostRow h) -> h.usedGpus() == 0 && gpus < h.totalGpus() ? 1 : 0)
                    .thenComparingInt(h -> h.totalGpus() - h.usedGpus());
            List<FleetCache.HostRow> fits = rows.stream().filter(h -> h.takesVms()
                    && h.totalGpus() - h.usedGpus() >= gpus && h.totalCpus() - h.usedCpus() >= 12 * gpus).toList();
            List<FleetCache.HostRow> got = picked.stream().map(s -> s.entry.row()).toList();
            assertThat(got).as("round %d", round).containsExactlyInAnyOrderElementsOf(fits);
            assertThat(got).as("round %d", round).isSortedAccordingTo(bestFit);
        }
    }
}
