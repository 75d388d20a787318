package io.gpucloud.controlplane.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.database.PgNotifications;
import io.gpucloud.controlplane.inventory.HostRegistry;
import io.gpucloud.controlplane.inventory.TestTopologiesAccess;
import io.gpucloud.controlplane.placement.PlacementAudit;
import io.gpucloud.controlplane.workflow.Dispatcher;
import io.gpucloud.controlplane.workflow.Prog;
import io.gpucloud.controlplane.workflow.StrandStore;
import io.gpucloud.controlplane.workflow.WorkflowProperties;
import io.gpucloud.protocol.Heartbeat;
import io.gpucloud.protocol.HeartbeatResponse;
import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.job.Job;
import io.gpucloud.protocol.job.JobKind;
import io.gpucloud.protocol.job.JobResult;
import io.gpucloud.worker.agent.ControlPlaneClient;
import io.gpucloud.worker.agent.JobHandler;
import io.gpucloud.worker.agent.WorkerAgent;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.transaction.support.TransactionTemplate;
import tools.jackson.databind.JsonNode;

/**
 * What provisioning does when things break: the control plane dies between labels, the worker dies
 * mid-job, a result arrives twice, libvirt or a GPU refuses, the host falls silent, a teardown step
 * fails. Each case runs a real worker agent whose hardware is scripted, and ends with the VM in the
 * expected state and the SQL audit showing nothing held by a VM that is not alive.
 */
class VmFaultTest extends ControlPlaneTestBase {

    @Autowired
    PlacementAudit audit;
    @Autowired
    Dispatcher dispatcher;
    @Autowired
    HostRegistry registry;

    private final List<WorkerAgent> agents = new ArrayList<>();
    private final List<CountDownLatch> latches = Collections.synchronizedList(new ArrayList<>());
    private final List<Job> received = Collections.synchronizedList(new ArrayList<>());

    @AfterEach
    void stopAgents() {
        latches.forEach(l -> {
            while (l.getCount() > 0) {
                l.countDown();
            }
        });
        agents.forEach(WorkerAgent::close);
    }

    // ---- the control plane crashes between labels ----

    @Autowired
    TransactionTemplate tx;
    @Autowired
    PgNotifications notifications;
    @Autowired
    StrandStore strandStore;
    @Autowired
    WorkflowProperties workflowProperties;
    @Autowired
    MeterRegistry meters;
    @Autowired
    List<Prog> progs;

    @Test
    void aControlPlaneCrashMidProvisioningResumesAtTheNextLabelWithoutRepeatingHostSteps() throws Exception {
        CountDownLatch bindTaken = latch(1);
        CountDownLatch bindMayFinish = latch(1);
        startHost("fault-crash", "fault-1", job -> {
            if (job.kind() == JobKind.BIND_VFIO && bindTaken.getCount() > 0) {
                bindTaken.countDown();
                await(bindMayFinish);
            }
            return ok(job);
        });
        String admin = adminToken();
        String id = createVm(admin, "crash-1", 2, "fault-1");
        assertThat(bindTaken.await(20, TimeUnit.SECONDS)).isTrue();

        dispatcher.stop(); // this instance "crashes"
        Dispatcher successor = null;
        try {
            // it held the VM's strand when it died; its lease runs out and another instance takes over
            assertThat(jdbc.sql("""
                    UPDATE strand SET lease_owner = 'crashed-instance', lease_until = now() - interval '1 s'
                     WHERE id = (SELECT (placement->>'strandId')::uuid FROM vm WHERE id = ?::uuid)
                    """).param(id).update()).isEqualTo(1);
            successor = new Dispatcher(jdbc, tx, notifications, strandStore, workflowProperties, meters, progs);
            successor.start();
            bindMayFinish.countDown();

            JsonNode running = awaitVmState(admin, id, "running");
            assertThat(kindsFor(id)).as("every host step ran exactly once").containsExactly(JobKind.RESET_GPUS,
                    JobKind.ACTIVATE_PARTITION, JobKind.BIND_VFIO, JobKind.DEFINE_DOMAIN, JobKind.START_DOMAIN);
            assertThat(running.get("jobs")).as("one create sequence").hasSize(1);
            running.get("jobs").forEach(j -> assertThat(j.get("attempts").asInt()).isEqualTo(1));
            assertThat(running.get("workflowLabel").asString()).isEqualTo("running");
            assertThat(audit.violations()).isEmpty();
        } finally {
            bindMayFinish.countDown();
            if (successor != null) {
                successor.stop();
            }
            dispatcher.start();
        }
    }

    /**
     * The control plane dies in the middle of any label of a create and a delete: the label has done its
     * work, but its transaction never commits. Another instance takes the strand over and runs that
     * label again. Every host step still runs exactly once, the VM runs and is deleted, and nothing
     * stays held. ({@code provision_on_host} and {@code teardown_on_host} run twice each: once to send
     * the host's job, once to read its result.)
     */
    @ParameterizedTest(name = "dies in run {1} of {0}")
    @CsvSource({"wait_for_capacity, 1", "provision_on_host, 1", "provision_on_host, 2", "running, 1",
            "teardown_on_host, 1", "teardown_on_host, 2", "release, 1"})
    void aControlPlaneThatDiesInAnyLabelIsResumedByAnotherWithoutRepeatingHostStepsOrLeaking(String label, int run) {
        String where = "die-" + label.replace('_', '-') + "-" + run;
        startHost(where, where, VmFaultTest::ok);
        String admin = adminToken();
        java.util.concurrent.atomic.AtomicReference<String> target = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.atomic.AtomicInteger runs = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean died = new java.util.concurrent.atomic.AtomicBoolean();
        Prog vmProg = progs.stream().filter(p -> p.name().equals("vm")).findFirst().orElseThrow();
        Prog dying = new Prog() {
            @Override
            public String name() {
                return vmProg.name();
            }

            @Override
            public java.util.Set<String> restingLabels() {
                return vmProg.restingLabels();
            }

            @Override
            public io.gpucloud.controlplane.workflow.Outcome run(String l, io.gpucloud.controlplane.workflow.Strand s) {
                var outcome = vmProg.run(l, s);
                if (l.equals(label) && String.valueOf(s.stack().get("vmId")).equals(target.get())
                        && runs.incrementAndGet() == run) {
                    died.set(true);
                    throw new IllegalStateException("the control plane died before " + l + " committed");
                }
                return outcome;
            }
        };
        List<Prog> withDying = progs.stream().map(p -> p == vmProg ? dying : p).toList();

        dispatcher.stop(); // the VM's first label must not run before the test knows which VM to watch
        Dispatcher other = new Dispatcher(jdbc, tx, notifications, strandStore, workflowProperties, meters, withDying);
        try {
            String id = createVm(admin, where, 2, where);
            target.set(id);
            other.start();

            JsonNode running = awaitVmState(admin, id, "running");
            assertThat(call("DELETE", "/admin/api/v1/vms/" + id, admin, null).status()).isEqualTo(202);
            JsonNode deleted = awaitVmState(admin, id, "deleted");

            assertThat(died).as("the label died once").isTrue();
            assertThat(running.get("provisionAttempts").asInt()).as("no rollback, the same attempt").isEqualTo(1);
            assertThat(kindsFor(id)).as("every host step ran exactly once").containsExactly(JobKind.RESET_GPUS,
                    JobKind.ACTIVATE_PARTITION, JobKind.BIND_VFIO, JobKind.DEFINE_DOMAIN, JobKind.START_DOMAIN,
                    JobKind.STOP_DOMAIN, JobKind.UNDEFINE_DOMAIN, JobKind.DEACTIVATE_PARTITION,
                    JobKind.REBIND_HOST_DRIVER, JobKind.RESET_GPUS);
            deleted.get("jobs").forEach(j -> assertThat(j.get("attempts").asInt()).as(j.toString()).isEqualTo(1));
            assertThat(heldBy(id)).isZero();
            assertThat(audit.violations()).isEmpty();
        } finally {
            other.stop();
            dispatcher.start();
        }
    }

    // ---- the worker dies holding a job ----

    @Test
    void aJobWhoseWorkerDiedIsOfferedAgainToTheRestartedWorker() throws Exception {
        CountDownLatch bindTaken = latch(1);
        WorkerAgent dying = startHost("fault-dies", "fault-2", job -> {
            if (job.kind() == JobKind.BIND_VFIO) {
                bindTaken.countDown();
                try {
                    new CountDownLatch(1).await(); // never reports
                } catch (InterruptedException e) {
                    throw new IllegalStateException("worker killed mid-job"); // nothing gets reported
                }
            }
            return ok(job);
        });
        String admin = adminToken();
        String id = createVm(admin, "dies-1", 1, "fault-2");
        assertThat(bindTaken.await(20, TimeUnit.SECONDS)).isTrue();
        dying.close();

        // the dead worker's lease on the create sequence runs out (JobQueue.LEASE; here at once)
        assertThat(jdbc.sql("""
                UPDATE worker_job SET lease_until = now() - interval '1 s'
                 WHERE vm_id = ?::uuid AND kind = 'SEQUENCE' AND state = 'leased'
                """).param(id).update()).isEqualTo(1);
        startHost("fault-dies", "fault-2", VmFaultTest::ok); // re-registers with the bootstrap token: same host

        JsonNode running = awaitVmState(admin, id, "running");
        List<Job> binds = received.stream().filter(j -> j.vmId().toString().equals(id))
                .filter(j -> j.kind() == JobKind.BIND_VFIO).toList();
        assertThat(binds).hasSize(2);
        assertThat(binds.get(0).id()).isEqualTo(binds.get(1).id());
        assertThat(binds.get(1).attempt()).isEqualTo(2);
        assertThat(kindsFor(id)).as("the whole sequence ran again; its finished steps are idempotent")
                .containsExactly(JobKind.RESET_GPUS, JobKind.ACTIVATE_PARTITION, JobKind.BIND_VFIO,
                        JobKind.RESET_GPUS, JobKind.ACTIVATE_PARTITION, JobKind.BIND_VFIO, JobKind.DEFINE_DOMAIN,
                        JobKind.START_DOMAIN);
        assertThat(running.get("jobs")).hasSize(1);
        assertThat(running.get("jobs").get(0).get("attempts").asInt()).isEqualTo(2);
        assertThat(running.get("provisionAttempts").asInt()).as("no rollback, the same attempt").isEqualTo(1);
        assertThat(audit.violations()).isEmpty();
    }

    // ---- a result reported twice ----

    @Test
    void aDuplicateResultReportIsAcceptedAndChangesNothing() {
        WorkerAgent agent = startHost("fault-dup", "fault-3", VmFaultTest::ok);
        String admin = adminToken();
        String id = createVm(admin, "dup-1", 1, "fault-3");
        JsonNode first = awaitVmState(admin, id, "running");
        UUID create = UUID.fromString(first.get("jobs").get(0).get("id").asString()); // the create sequence
        Job start = received.stream().filter(j -> j.vmId().toString().equals(id) && j.kind() == JobKind.START_DOMAIN)
                .findFirst().orElseThrow();
        var me = agent.identity().orElseThrow();
        String before = jobRow(create);
        String path = "/worker/v1/hosts/" + me.hostId() + "/jobs/" + create + "/result";

        assertThat(call("POST", path, me.credential(), ok(start)).status()).isEqualTo(204);
        JobResult contradicting = new JobResult(false, List.of(), "late report of an old run", "libvirt-error", Map.of());
        assertThat(call("POST", path, me.credential(), contradicting).status()).isEqualTo(204);

        assertThat(jobRow(create)).as("state, result and finish time unchanged").isEqualTo(before);
        JsonNode vm = vm(admin, id);
        assertThat(vm.get("state").asString()).isEqualTo("running");
        assertThat(vm.get("workflowLabel").asString()).isEqualTo("running");
        assertThat(call("POST", "/worker/v1/hosts/" + me.hostId() + "/jobs/" + UUID.randomUUID() + "/result",
                me.credential(), ok(start)).status()).as("an unknown job").isEqualTo(404);
        assertThat(call("POST", "/worker/v1/hosts/" + me.hostId() + "/jobs/" + start.id() + "/result",
                me.credential(), ok(start)).status()).as("a sub-job of a sequence is no job of its own")
                .isEqualTo(404);
        assertThat(audit.violations()).isEmpty();
    }

    // ---- libvirt refuses the domain ----

    @Test
    void aFailedDefineRollsBackInOrderAndTheRetryRuns() {
        CountDownLatch defineFails = latch(1);
        startHost("fault-define", "fault-4", job -> {
            if (job.kind() == JobKind.DEFINE_DOMAIN && defineFails.getCount() > 0) {
                defineFails.countDown();
                return fail("error: internal error: process exited while connecting to monitor", "libvirt-error");
            }
            return ok(job);
        });
        String admin = adminToken();
        String id = createVm(admin, "define-1", 2, "fault-4");
        JsonNode running = awaitVmState(admin, id, "running");

        assertThat(running.get("provisionAttempts").asInt()).isEqualTo(2);
        assertThat(kindsFor(id)).containsExactly(
                JobKind.RESET_GPUS, JobKind.ACTIVATE_PARTITION, JobKind.BIND_VFIO, JobKind.DEFINE_DOMAIN,
                JobKind.STOP_DOMAIN, JobKind.UNDEFINE_DOMAIN, JobKind.DEACTIVATE_PARTITION, JobKind.REBIND_HOST_DRIVER,
                JobKind.RESET_GPUS, JobKind.ACTIVATE_PARTITION, JobKind.BIND_VFIO, JobKind.DEFINE_DOMAIN,
                JobKind.START_DOMAIN);
        JsonNode failedCreate = running.get("jobs").get(0);
        assertThat(failedCreate.get("kind").asString()).isEqualTo("SEQUENCE");
        assertThat(failedCreate.get("state").asString()).isEqualTo("failed");
        assertThat(failedCreate.get("result").get("errorCode").asString()).isEqualTo("libvirt-error");
        assertThat(failedCreate.get("result").get("error").asString()).contains("connecting to monitor");
        assertThat(failedCreate.get("result").get("facts").get("failedKind").asString()).isEqualTo("DEFINE_DOMAIN");
        assertThat(failedCreate.get("result").get("facts").get("completedKinds").asString())
                .isEqualTo("RESET_GPUS,ACTIVATE_PARTITION,BIND_VFIO");
        JsonNode failedStep = failedCreate.get("result").get("steps").get(3);
        assertThat(failedStep.get("name").asString()).isEqualTo("DEFINE_DOMAIN: scripted failure");
        assertThat(failedStep.get("ok").asBoolean()).isFalse();
        assertThat(failedStep.get("exitCode").asInt()).isEqualTo(1);
        List<String> rollback = new ArrayList<>();
        running.get("jobs").forEach(j -> rollback.add(j.get("kind").asString()));
        assertThat(rollback).as("the job timeline: create, its rollback as one teardown, the retry")
                .containsExactly("SEQUENCE", "TEARDOWN", "SEQUENCE");
        assertThat(vm(admin, id).get("stateReason").isNull()).isTrue();
        assertThat(unhealthyGpus("fault-define")).as("a libvirt error is not the GPUs' fault").isEmpty();
        assertThat(audit.violations()).isEmpty();
    }

    // ---- a GPU will not let go of its host driver ----

    @Test
    void aGpuThatRefusesToUnbindMakesTheAttemptsGpusSuspectAndTheRetryUsesOthers() {
        CountDownLatch bindFails = latch(1);
        startHost("fault-busy", "fault-5", job -> {
            if (job.kind() == JobKind.BIND_VFIO && bindFails.getCount() > 0) {
                bindFails.countDown();
                return fail("0000:18:00.0 did not unbind from nvidia: a process holds /dev/nvidia0", "device-busy");
            }
            return ok(job);
        });
        String admin = adminToken();
        String id = createVm(admin, "busy-1", 2, "fault-5");
        JsonNode running = awaitVmState(admin, id, "running");

        assertThat(running.get("provisionAttempts").asInt()).isEqualTo(2);
        Map<String, String> suspect = unhealthyGpus("fault-busy");
        assertThat(suspect).hasSize(2);
        suspect.values().forEach(reason -> assertThat(reason).startsWith("suspect: ")
                .contains("provision_on_host/bind_vfio").contains("BIND_VFIO failed").contains("device-busy"));
        List<String> now = new ArrayList<>();
        running.get("gpuBdfs").forEach(b -> now.add(b.asString()));
        assertThat(now).hasSize(2).doesNotContainAnyElementsOf(suspect.keySet());
        assertThat(audit.violations()).isEmpty();
    }

    // ---- the host falls silent mid-provisioning ----

    /** A network between worker and control plane that can drop heartbeats (jobs still flow). */
    static final class SilenceableClient extends ControlPlaneClient {
        volatile boolean silent;

        SilenceableClient(URI baseUri) {
            super(baseUri);
        }

        @Override
        public HeartbeatResponse heartbeat(UUID hostId, String credential, Heartbeat heartbeat) {
            if (silent) {
                throw new ControlPlaneException(0, "network down (test)", null);
            }
            return super.heartbeat(hostId, credential, heartbeat);
        }
    }

    @Test
    void aVmWaitsForItsSilentHostKeepingItsDevicesAndRunsWhenItReturns() throws Exception {
        CountDownLatch bindTaken = latch(1);
        CountDownLatch bindMayFinish = latch(1);
        SilenceableClient network = new SilenceableClient(URI.create("http://127.0.0.1:" + port));
        startHost("fault-silent", "fault-6", network, job -> {
            if (job.kind() == JobKind.BIND_VFIO && bindTaken.getCount() > 0) {
                bindTaken.countDown();
                await(bindMayFinish);
            }
            return ok(job);
        });
        String admin = adminToken();
        String id = createVm(admin, "silent-1", 2, "fault-6");
        assertThat(bindTaken.await(20, TimeUnit.SECONDS)).isTrue();
        long held = heldBy(id);

        network.silent = true;
        jdbc.sql("UPDATE host SET last_heartbeat_at = now() - interval '10 minutes' WHERE name = 'fault-silent'")
                .update();
        assertThat(registry.markSilentHostsUnreachable()).contains("fault-silent");
        JsonNode waiting = vm(admin, id);
        assertThat(waiting.get("state").asString()).isEqualTo("provisioning");
        assertThat(waiting.get("stateReason").asString()).contains("host unreachable");
        assertThat(heldBy(id)).as("devices stay with the VM while the host may still act on them").isEqualTo(held);
        assertThat(audit.violations()).isEmpty();

        network.silent = false; // the worker is heard again
        awaitCondition(() -> "ready".equals(jdbc.sql("SELECT state FROM host WHERE name = 'fault-silent'")
                .query(String.class).single()), "the host to be ready again");
        assertThat(vm(admin, id).get("stateReason").isNull()).as("no longer waiting").isTrue();
        bindMayFinish.countDown();
        JsonNode running = awaitVmState(admin, id, "running");
        assertThat(running.get("provisionAttempts").asInt()).isEqualTo(1);
        assertThat(kindsFor(id)).containsExactly(JobKind.RESET_GPUS, JobKind.ACTIVATE_PARTITION, JobKind.BIND_VFIO,
                JobKind.DEFINE_DOMAIN, JobKind.START_DOMAIN);
        assertThat(audit.violations()).isEmpty();
    }

    // ---- a teardown step fails ----

    @Test
    void aFailedTeardownStepQuarantinesTheGpusAndStillReleasesTheClaim() {
        startHost("fault-teardown", "fault-7", job -> job.kind() == JobKind.REBIND_HOST_DRIVER
                ? fail("0000:18:00.0 did not bind to nvidia within 10 s", "driver-bind-failed")
                : ok(job));
        String admin = adminToken();
        String id = createVm(admin, "teardown-1", 2, "fault-7");
        JsonNode running = awaitVmState(admin, id, "running");
        List<String> gpus = new ArrayList<>();
        running.get("gpuBdfs").forEach(b -> gpus.add(b.asString()));

        assertThat(call("DELETE", "/admin/api/v1/vms/" + id, admin, null).status()).isEqualTo(202);
        awaitVmState(admin, id, "deleted");
        List<JobKind> all = kindsFor(id);
        assertThat(all.subList(all.size() - 5, all.size())).containsExactly(JobKind.STOP_DOMAIN,
                JobKind.UNDEFINE_DOMAIN, JobKind.DEACTIVATE_PARTITION, JobKind.REBIND_HOST_DRIVER, JobKind.RESET_GPUS);
        Map<String, String> unhealthy = unhealthyGpus("fault-teardown");
        assertThat(unhealthy).containsOnlyKeys(gpus);
        unhealthy.values().forEach(reason -> assertThat(reason).startsWith("quarantined: ")
                .contains("teardown of VM " + id).contains("REBIND_HOST_DRIVER failed").contains("driver-bind-failed"));
        assertThat(heldBy(id)).as("the claim is released").isZero();
        assertThat(audit.violations()).isEmpty();
    }

    // ---- helpers ----

    private WorkerAgent startHost(String name, String location, JobHandler script) {
        return startHost(name, location, new ControlPlaneClient(URI.create("http://127.0.0.1:" + port)), script);
    }

    private WorkerAgent startHost(String name, String location, ControlPlaneClient client, JobHandler script) {
        HostTopology topology = TestTopologiesAccess.h100(name);
        WorkerAgent agent = new WorkerAgent(client, known -> topology, bootstrapToken(), location, null);
        // the script answers single steps; a create sequence is run through it one sub-job at a time
        agent.withJobs(JobHandler.runningSequences(job -> {
            received.add(job);
            return script.handle(job);
        }));
        agent.start();
        agents.add(agent);
        awaitCondition(() -> agent.identity().isPresent() && jdbc.sql(
                "SELECT count(*) FROM host WHERE name = ? AND state = 'ready'").param(name)
                .query(Long.class).single() == 1, "host " + name + " ready");
        return agent;
    }

    private static JobResult ok(Job job) {
        return new JobResult(true, List.of(new JobResult.Step(job.kind().name(), "sim", 0, "", 1, true)), null, null,
                Map.of());
    }

    private static JobResult fail(String error, String errorCode) {
        return new JobResult(false, List.of(new JobResult.Step("scripted failure", "sim", 1, error, 1, false)), error,
                errorCode, Map.of());
    }

    private CountDownLatch latch(int count) {
        CountDownLatch l = new CountDownLatch(count);
        latches.add(l);
        return l;
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            throw new IllegalStateException("worker stopped mid-job");
        }
    }

    private String createVm(String admin, String name, int gpus, String location) {
        var r = call("POST", "/admin/api/v1/vms", admin, Map.of("name", name, "gpuModel", "H100-SXM5-80GB",
                "gpuCount", gpus, "vcpus", 4, "memoryMiB", 8192, "location", location));
        assertThat(r.status()).as(r.body()).isEqualTo(202);
        return r.json().get("id").asString();
    }

    private JsonNode vm(String admin, String id) {
        return call("GET", "/admin/api/v1/vms/" + id, admin, null).json();
    }

    private List<JobKind> kindsFor(String vmId) {
        synchronized (received) {
            return received.stream().filter(j -> j.vmId().toString().equals(vmId)).map(Job::kind).toList();
        }
    }

    private long heldBy(String vmId) {
        return jdbc.sql("SELECT (SELECT count(*) FROM pci_device WHERE vm_id = ?::uuid) + (SELECT count(*) FROM vm_cpu WHERE vm_id = ?::uuid)")
                .params(vmId, vmId).query(Long.class).single();
    }

    /** GPU BDF → "health: reason" for the host's GPUs that are not ok. */
    private Map<String, String> unhealthyGpus(String hostName) {
        Map<String, String> out = new java.util.TreeMap<>();
        jdbc.sql("""
                SELECT d.bdf, d.health || ': ' || coalesce(d.health_reason, '') FROM pci_device d
                  JOIN host h ON h.id = d.host_id WHERE h.name = ? AND d.kind = 'gpu' AND d.health <> 'ok'
                """).param(hostName).query(rs -> {
                    out.put(rs.getString(1), rs.getString(2));
                });
        return out;
    }

    private String jobRow(UUID jobId) {
        return jdbc.sql("SELECT state || '|' || result::text || '|' || finished_at::text FROM worker_job WHERE id = ?")
                .param(jobId).query(String.class).single();
    }
}
