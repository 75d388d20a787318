package io.gpucloud.controlplane.workflow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import java.time.OffsetDateTime;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.dao.DataAccessException;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * A wake-up (a job's result, a signal) must reach the strand's next label even when the strand is
 * already due: otherwise that label, begun before the wake-up commits, sees nothing new and naps,
 * and the VM waits out the nap (30 s for a job, an hour at {@code running}) before it acts.
 */
class StrandWakeTest extends ControlPlaneTestBase {

    @Autowired
    StrandStore store;
    @Autowired
    TransactionTemplate tx;

    private UUID strand;

    /** A strand due now and leased by another instance, as between two labels of a hop. */
    private UUID dueStrandLeasedElsewhere() {
        strand = UUID.randomUUID();
        jdbc.sql("""
                INSERT INTO strand (id, prog, label, lease_until, lease_owner)
                VALUES (?, 'vm', 'provision_on_host', now() + interval '1 hour', 'another-instance')
                """).param(strand).update();
        return strand;
    }

    @AfterEach
    void removeStrand() {
        if (strand != null) {
            jdbc.sql("DELETE FROM semaphore WHERE strand_id = ?").param(strand).update();
            jdbc.sql("DELETE FROM strand WHERE id = ?").param(strand).update();
        }
    }

    private void assertNoLabelCanBegin(UUID id) {
        // a label run begins by taking this lock (Dispatcher.runOneLabel)
        assertThatThrownBy(() -> jdbc.sql("SELECT id FROM strand WHERE id = ? FOR NO KEY UPDATE NOWAIT").param(id)
                .query(UUID.class).single()).isInstanceOf(DataAccessException.class)
                .hasMessageContaining("55P03"); // lock_not_available
    }

    private void assertALabelCanBegin(UUID id) {
        assertThat(jdbc.sql("SELECT id FROM strand WHERE id = ? FOR NO KEY UPDATE NOWAIT").param(id)
                .query(UUID.class).single()).isEqualTo(id);
    }

    /**
     * Runs {@code change} in a transaction and, while that transaction is still open, checks that no
     * label of the strand can begin; then lets it commit.
     */
    private void assertNoLabelBeginsUntilCommitted(UUID id, Runnable change) throws Exception {
        CountDownLatch changed = new CountDownLatch(1);
        CountDownLatch commit = new CountDownLatch(1);
        var open = CompletableFuture.runAsync(() -> tx.executeWithoutResult(status -> {
            change.run();
            changed.countDown();
            await(commit);
        }));
        try {
            assertThat(changed.await(10, TimeUnit.SECONDS)).isTrue();
            assertNoLabelCanBegin(id);
        } finally {
            commit.countDown();
        }
        open.get(10, TimeUnit.SECONDS);
    }

    @Test
    void aStrandAlreadyDueRunsItsNextLabelOnlyAfterTheWakeUpCommits() throws Exception {
        UUID id = dueStrandLeasedElsewhere();
        assertNoLabelBeginsUntilCommitted(id, () -> store.wake(id));
        assertALabelCanBegin(id);
    }

    @Test
    void aSignalToAStrandAlreadyDueIsSeenByItsNextLabel() throws Exception {
        UUID id = dueStrandLeasedElsewhere();
        assertNoLabelBeginsUntilCommitted(id, () -> store.signal(id, "destroy"));
        assertThat(store.semaphores(id)).containsExactly("destroy");
    }

    @Test
    void aWakeUpMakesANappingStrandDueAndLeavesADueOneAsItWas() {
        UUID id = dueStrandLeasedElsewhere();
        jdbc.sql("UPDATE strand SET schedule = now() + interval '1 hour' WHERE id = ?").param(id).update();
        tx.executeWithoutResult(status -> store.wake(id));
        assertThat(jdbc.sql("SELECT schedule <= now() FROM strand WHERE id = ?").param(id).query(Boolean.class)
                .single()).isTrue();
        var before = jdbc.sql("SELECT schedule FROM strand WHERE id = ?").param(id).query(OffsetDateTime.class)
                .single();
        tx.executeWithoutResult(status -> store.wake(id));
        assertThat(jdbc.sql("SELECT schedule FROM strand WHERE id = ?").param(id).query(OffsetDateTime.class)
                .single()).as("a due strand keeps its place in the queue").isEqualTo(before);
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
