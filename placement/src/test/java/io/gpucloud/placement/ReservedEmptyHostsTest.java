package io.gpucloud.placement;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import static io.gpucloud.placement.TestHosts.H100;
import static io.gpucloud.placement.TestHosts.policy;
import static io.gpucloud.placement.TestHosts.request;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The reservation of the fleet's last empty hosts for whole-host VMs (defaults: the last 2, against
 * VMs expected to run over 90 minutes), as a user sees it: where the VM lands, or why it is refused.
 */
class ReservedEmptyHostsTest {

    /** A partly used host with room for 1, 2 and 4 GPUs (one GPU held), a full one and an empty one. */
    static final HostSnapshot ROOM = TestHosts.h100().name("room").hold(8).endsIn(Duration.ofHours(3)).build();
    static final HostSnapshot FULL = TestHosts.h100().name("full").hold(0).endsIn(Duration.ofHours(3)).build();
    static final HostSnapshot EMPTY = TestHosts.h100().name("empty").build();

    record Case(String name, int gpus, Duration expected, int emptyInFleet, List<HostSnapshot> hosts,
                String lands, String explains) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> cases() {
        Duration hours = Duration.ofHours(4);
        return Stream.of(
                new Case("2 empty left: a long 1-GPU VM goes to a partly used host", 1, hours, 2,
                        List.of(EMPTY, ROOM), "room", null),
                new Case("2 empty left, nothing partly used fits: a long 1-GPU VM is refused, in numbers", 1, hours, 2,
                        List.of(FULL, EMPTY), null,
                        "1 empty host kept for whole-host VMs (2 empty in the fleet, the last 2 reserved against VMs "
                                + "expected to run over 90 min; this one 240 min)"),
                new Case("2 empty left: a long 4-GPU VM is refused too", 4, hours, 2, List.of(FULL, EMPTY), null,
                        "this one 240 min"),
                new Case("1 empty left: an 8-GPU VM still gets it", 8, hours, 1, List.of(FULL, EMPTY), "empty", null),
                new Case("3 empty left: a long 1-GPU VM may open one", 1, hours, 3, List.of(FULL, EMPTY), "empty",
                        null),
                new Case("2 empty left: a 20-minute 1-GPU VM may open one", 1, Duration.ofMinutes(20), 2,
                        List.of(FULL, EMPTY), "empty", null),
                new Case("2 empty left: a VM without expected duration may open one", 2, null, 2,
                        List.of(FULL, EMPTY), "empty", null),
                new Case("fleet count unknown: nothing is reserved", 1, hours, ScoringContextUnknown.VALUE,
                        List.of(FULL, EMPTY), "empty", null));
    }

    /** Keeps the table readable. */
    private static final class ScoringContextUnknown {
        static final int VALUE = ScoringContext.UNKNOWN;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void reservesTheLastEmptyHostsForWholeHostVms(Case c) {
        PlacementRequest r = request(H100, c.gpus(), 4 * c.gpus(), 1024L * c.gpus(), NumaPolicy.PREFERRED, false,
                c.expected());
        PlacementDecision d = policy().decide(r, c.hosts(), c.emptyInFleet());
        if (c.lands() != null) {
            assertThat(d.placed()).as(d.explanation()).isTrue();
            HostSnapshot chosen = c.hosts().stream().filter(h -> h.hostId().equals(d.candidates().get(0).hostId()))
                    .findFirst().orElseThrow();
            assertThat(chosen.name()).isEqualTo(c.lands());
        } else {
            assertThat(d.placed()).isFalse();
            assertThat(d.rejections()).containsEntry("reserved-empty-hosts", 1);
            assertThat(d.explanation()).contains(c.explains());
        }
    }

    @Test
    void withoutTheFleetCountOrWithTheReserveOffNothingIsHeldBack() {
        PlacementRequest r = request(H100, 1, 4, 1024, NumaPolicy.PREFERRED, false, Duration.ofHours(4));
        assertThat(policy().decide(r, List.of(FULL, EMPTY)).placed()).isTrue();
        PlacementPolicy off = new PlacementPolicy(PolicyWeights.DEFAULTS.withReservedEmptyHosts(0),
                java.time.Clock.fixed(TestHosts.NOW, java.time.ZoneOffset.UTC));
        assertThat(off.decide(r, List.of(FULL, EMPTY), 0).placed()).isTrue();
        assertThat(off.decide(r, List.of(FULL, EMPTY), 0).rejections()).doesNotContainKey("reserved-empty-hosts");
    }
}
