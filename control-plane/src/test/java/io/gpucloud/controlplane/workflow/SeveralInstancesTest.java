package io.gpucloud.controlplane.workflow;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.database.PgNotifications;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Several control-plane instances on one database share the strands without running one twice:
 * three dispatchers (this instance's and two more, as other replicas would run them) work through
 * strands that hop and nap between labels, and every label of every strand runs exactly once, never
 * while another run of the same strand is in progress, and commits its write exactly once.
 */
class SeveralInstancesTest extends ControlPlaneTestBase {

    private static final int STRANDS = 60;

    @Autowired
    StrandStore strands;
    @Autowired
    TransactionTemplate tx;
    @Autowired
    PgNotifications notifications;
    @Autowired
    WorkflowProperties properties;
    @Autowired
    MeterRegistry meters;
    @Autowired
    List<Prog> progs;

    private final List<UUID> created = new ArrayList<>();
    private final List<Dispatcher> others = new ArrayList<>();

    @AfterEach
    void cleanUp() {
        others.forEach(Dispatcher::stop);
        for (UUID id : created) {
            jdbc.sql("DELETE FROM semaphore WHERE strand_id = ?").param(id).update();
            jdbc.sql("DELETE FROM strand WHERE id = ?").param(id).update();
        }
    }

    @Test
    void threeInstancesRunEveryLabelOfEveryStrandExactlyOnce() {
        for (int i = 0; i < 2; i++) {
            Dispatcher other = new Dispatcher(jdbc, tx, notifications, strands, properties, meters, progs);
            others.add(other);
            other.start();
        }
        for (int i = 0; i < STRANDS; i++) {
            created.add(strands.create(RelayTestProg.NAME, "first", Map.of()));
        }

        awaitCondition(() -> jdbc.sql("SELECT count(*) FROM strand WHERE id = ANY (?) AND exitval IS NOT NULL")
                .param(created.toArray(UUID[]::new)).query(Long.class).single() == STRANDS, "every strand to end");

        assertThat(RelayTestProg.OVERLAPS.get()).as("runs of one strand at the same time").isZero();
        for (UUID id : created) {
            assertThat(RelayTestProg.LABELS_RUN.get(id)).as("labels run by strand %s", id)
                    .containsExactly("first", "second", "third");
        }
        Map<String, Long> written = new java.util.TreeMap<>();
        jdbc.sql("SELECT name, count(*) FROM semaphore WHERE strand_id = ANY (?) GROUP BY name")
                .param(created.toArray(UUID[]::new))
                .query(rs -> {
                    written.put(rs.getString(1), rs.getLong(2));
                });
        assertThat(written).as("each label's write committed once per strand")
                .isEqualTo(Map.of("ran-first", (long) STRANDS, "ran-second", (long) STRANDS, "ran-third", (long) STRANDS));
        assertThat(RelayTestProg.OWNERS).as("the instances shared the work").hasSizeGreaterThanOrEqualTo(2);
    }
}
