package io.gpucloud.controlplane.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.inventory.TestTopologiesAccess;
import io.gpucloud.protocol.RegisterRequest;
import io.gpucloud.protocol.job.Job;
import io.gpucloud.protocol.job.JobKind;
import io.gpucloud.protocol.job.JobResult;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * A worker reports a job's result and, in the same request ({@code result?next=N}), waits for its
 * next job: one request per job while work keeps coming. A report without {@code next} answers at
 * once, as before; a report is recorded before the wait, so repeating it is harmless.
 */
class WorkerJobProtocolTest extends ControlPlaneTestBase {

    private static final JobResult OK = new JobResult(true, List.of(), null, null, Map.of());

    @Autowired
    JobQueue jobQueue;
    @Autowired
    TransactionTemplate tx;

    private String hostId;
    private String credential;

    @BeforeEach
    void registerAHost() {
        Response r = call("POST", "/worker/v1/register", bootstrapToken(),
                new RegisterRequest("t", null, TestTopologiesAccess.h100("proto-" + UUID.randomUUID())));
        hostId = r.json().get("hostId").asString();
        credential = r.json().get("credential").asString();
    }

    private UUID enqueue() {
        Job job = new Job(UUID.randomUUID(), JobKind.RESET_GPUS, null, 1, List.of(), null, null, null, null);
        jobQueue.enqueueOnce(null, null, UUID.fromString(hostId), job);
        return job.id();
    }

    private String state(UUID job) {
        return jdbc.sql("SELECT state FROM worker_job WHERE id = ?").param(job).query(String.class).single();
    }

    private Response report(UUID job, String query) {
        return call("POST", "/worker/v1/hosts/" + hostId + "/jobs/" + job + "/result" + query, credential, OK);
    }

    @Test
    void aReportWithNextAnswersWithTheNextJobLeased() {
        UUID first = enqueue();
        UUID second = enqueue();
        Response leased = call("POST", "/worker/v1/hosts/" + hostId + "/jobs/lease?wait=0", credential, null);
        assertThat(leased.json().get("id").asString()).isEqualTo(first.toString());

        Response next = report(first, "?next=0");
        assertThat(next.status()).isEqualTo(200);
        assertThat(next.json().get("id").asString()).isEqualTo(second.toString());
        assertThat(state(first)).isEqualTo("succeeded");
        assertThat(state(second)).isEqualTo("leased");

        long t0 = System.nanoTime();
        Response none = report(second, "?next=1");
        assertThat(none.status()).isEqualTo(204);
        assertThat((System.nanoTime() - t0) / 1_000_000).as("waited for a job that never came").isGreaterThanOrEqualTo(900);
        assertThat(state(second)).isEqualTo("succeeded");
    }

    @Test
    void aJobEnqueuedWhileTheReportWaitsIsHandedOverAtOnce() throws Exception {
        UUID first = enqueue();
        call("POST", "/worker/v1/hosts/" + hostId + "/jobs/lease?wait=0", credential, null);
        Thread later = new Thread(() -> {
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                return;
            }
            enqueue();
        });
        later.start();
        long t0 = System.nanoTime();
        Response next = report(first, "?next=20");
        later.join();
        assertThat(next.status()).isEqualTo(200);
        assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(10_000);
    }

    @Test
    void aReportWithoutNextAnswersAtOnceAndLeasesNothing() {
        UUID first = enqueue();
        UUID waiting = enqueue();
        call("POST", "/worker/v1/hosts/" + hostId + "/jobs/lease?wait=0", credential, null);
        Response r = report(first, "");
        assertThat(r.status()).isEqualTo(204);
        assertThat(state(first)).isEqualTo("succeeded");
        assertThat(state(waiting)).isEqualTo("queued");
    }

    @Test
    void aRepeatedReportChangesNothing() {
        UUID first = enqueue();
        call("POST", "/worker/v1/hosts/" + hostId + "/jobs/lease?wait=0", credential, null);
        assertThat(report(first, "?next=0").status()).isEqualTo(204);
        String finished = jdbc.sql("SELECT finished_at::text FROM worker_job WHERE id = ?").param(first)
                .query(String.class).single();
        Response again = call("POST", "/worker/v1/hosts/" + hostId + "/jobs/" + first + "/result?next=0", credential,
                new JobResult(false, List.of(), "late duplicate", "x", Map.of()));
        assertThat(again.status()).isEqualTo(204);
        assertThat(state(first)).isEqualTo("succeeded");
        assertThat(jdbc.sql("SELECT finished_at::text FROM worker_job WHERE id = ?").param(first)
                .query(String.class).single()).isEqualTo(finished);
    }

    @Test
    void aWaitOutOfRangeIsRefusedBeforeAnythingIsRecorded() {
        UUID first = enqueue();
        call("POST", "/worker/v1/hosts/" + hostId + "/jobs/lease?wait=0", credential, null);
        for (String bad : List.of("?next=31", "?next=-1")) {
            Response r = report(first, bad);
            assertThat(r.status()).as(bad).isEqualTo(400);
            assertThat(r.contentType()).startsWith("application/problem+json");
            assertThat(r.body()).contains("next");
        }
        assertThat(state(first)).isEqualTo("leased");
    }

    /**
     * A late report holds the job's row and then wants the strand; the label withdrawing the job holds
     * the strand. Withdrawing must not wait for the report, or the two deadlock.
     */
    @Test
    void aJobBeingReportedIsNotWithdrawnAndTheWithdrawalDoesNotWait() throws Exception {
        UUID job = enqueue();
        call("POST", "/worker/v1/hosts/" + hostId + "/jobs/lease?wait=0", credential, null);
        jdbc.sql("UPDATE worker_job SET lease_until = now() - interval '1 minute' WHERE id = ?").param(job).update();

        CountDownLatch locked = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        var report = CompletableFuture.runAsync(() -> tx.executeWithoutResult(status -> {
            jdbc.sql("SELECT id FROM worker_job WHERE id = ? FOR NO KEY UPDATE").param(job).query(UUID.class).single();
            locked.countDown();
            try {
                release.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        try {
            assertThat(locked.await(10, TimeUnit.SECONDS)).isTrue();
            var withdrawn = CompletableFuture.supplyAsync(() -> jobQueue.withdrawUntaken(job, "worker away"));
            assertThat(withdrawn.get(5, TimeUnit.SECONDS)).isFalse();
            assertThat(state(job)).isEqualTo("leased");
        } finally {
            release.countDown();
        }
        report.get(10, TimeUnit.SECONDS);

        // with nobody on it, the expired lease is withdrawn as before
        assertThat(jobQueue.withdrawUntaken(job, "worker away")).isTrue();
        assertThat(state(job)).isEqualTo("failed");
        assertThat(jdbc.sql("SELECT result->>'errorCode' FROM worker_job WHERE id = ?").param(job)
                .query(String.class).single()).isEqualTo("worker-absent");
    }
}
