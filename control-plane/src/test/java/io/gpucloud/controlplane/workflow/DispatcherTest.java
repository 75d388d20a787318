package io.gpucloud.controlplane.workflow;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * What an operator relies on when a label goes wrong: a label that throws leaves nothing of its writes,
 * is tried again with growing backoff, is counted and logged with the VM and host it was working for;
 * and only a strand that has not moved where it should is reported stuck, never a VM that simply runs.
 */
@ExtendWith(OutputCaptureExtension.class)
class DispatcherTest extends ControlPlaneTestBase {

    @Autowired
    StrandStore strands;
    @Autowired
    Dispatcher dispatcher;
    @Autowired
    MeterRegistry meters;

    private final List<UUID> created = new ArrayList<>();

    @AfterEach
    void removeStrands() {
        for (UUID id : created) {
            jdbc.sql("DELETE FROM semaphore WHERE strand_id = ?").param(id).update();
            jdbc.sql("DELETE FROM strand WHERE id = ?").param(id).update();
        }
    }

    @Test
    void aFailingLabelLeavesNothingAndIsTriedAgainWithGrowingBackoffCountedAndLoggedWithItsVm(CapturedOutput out) {
        UUID vm = UUID.randomUUID();
        UUID host = UUID.randomUUID();
        double failuresBefore = failures();
        UUID id = UUID.randomUUID();
        FailingTestProg.FAILURES_LEFT.put(id, 3);
        strands.create(id, FailingTestProg.NAME, "start", Map.of("vmId", vm.toString(), "hostId", host.toString()));
        created.add(id);

        String result = awaitValue(() -> jdbc.sql("SELECT exitval #>> '{}' FROM strand WHERE id = ?").param(id)
                .query(String.class).optional().orElse(null), "the strand to end");

        assertThat(result).isEqualTo("done");
        List<Instant> runs = FailingTestProg.RUNS.get(id);
        assertThat(runs).hasSize(4);
        // backoff 0.5 s, 1 s, 2 s: each wait at least its step (a strand due between polls waits for the next)
        List<Duration> waits = new ArrayList<>();
        for (int i = 1; i < runs.size(); i++) {
            waits.add(Duration.between(runs.get(i - 1), runs.get(i)));
        }
        assertThat(waits.get(0)).isGreaterThanOrEqualTo(Duration.ofMillis(450));
        assertThat(waits.get(1)).isGreaterThanOrEqualTo(Duration.ofMillis(950));
        assertThat(waits.get(2)).isGreaterThanOrEqualTo(Duration.ofMillis(1950)).isGreaterThan(waits.get(0));
        assertThat(jdbc.sql("SELECT count(*) FROM semaphore WHERE strand_id = ?").param(id).query(Long.class).single())
                .as("the failed runs' writes were rolled back with them").isZero();
        assertThat(failures() - failuresBefore).isEqualTo(3);
        assertThat(out.getOut()).as("the label's own log lines and its failures name the VM and host")
                .containsPattern("host=" + host + " vm=" + vm + " .*test-failing runs " + id)
                .containsPattern("host=" + host + " vm=" + vm + " .*Strand " + id
                        + " failed in test-failing.start: java.lang.IllegalStateException: the disk fell off");
    }

    @Test
    void aStrandThatHasNotMovedIsStuckButARunningVmIsNot() {
        Map<String, Long> before = dispatcher.stuckLabels();
        napping("running", "2 hours");
        napping("provision_on_host", "2 hours");
        napping("provision_on_host", "1 minute");
        jdbc.sql("UPDATE strand SET exitval = to_jsonb('deleted'::text) WHERE id = ?").param(napping("release", "2 hours"))
                .update();

        Map<String, Long> stuck = dispatcher.stuckLabels();
        assertThat(stuck.getOrDefault("vm.provision_on_host", 0L))
                .isEqualTo(before.getOrDefault("vm.provision_on_host", 0L) + 1);
        assertThat(stuck).doesNotContainKey("vm.running").doesNotContainKey("vm.release");
    }

    /** A VM strand napping at {@code label} for a day, which entered that label {@code ago}. */
    private UUID napping(String label, String ago) {
        UUID id = UUID.randomUUID();
        jdbc.sql("""
                INSERT INTO strand (id, prog, label, schedule, label_entered_at)
                VALUES (?, 'vm', ?, now() + interval '1 day', now() - ?::interval)
                """).params(id, label, ago).update();
        created.add(id);
        return id;
    }

    private double failures() {
        var counter = meters.find("gpucloud.workflow.failures").tag("label", "test-failing.start").counter();
        return counter == null ? 0 : counter.count();
    }
}
