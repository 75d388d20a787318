package io.gpucloud.controlplane.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.inventory.TestTopologiesAccess;
import io.gpucloud.controlplane.placement.PlacementAudit;
import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.job.Job;
import io.gpucloud.protocol.job.JobKind;
import io.gpucloud.protocol.job.JobResult;
import io.gpucloud.worker.agent.ControlPlaneClient;
import io.gpucloud.worker.agent.JobHandler;
import io.gpucloud.worker.agent.WorkerAgent;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import tools.jackson.databind.JsonNode;

/**
 * The VM workflow against a real worker agent whose hardware is scripted: the order of host steps,
 * stop/start, delete, and what a failing step does (roll back, retry elsewhere, give up) — with
 * the SQL audit showing nothing held by a VM that is not alive.
 */
class VmLifecycleTest extends ControlPlaneTestBase {

    @Autowired
    PlacementAudit audit;
    @Autowired
    io.gpucloud.controlplane.workflow.StrandStore strands;
    @Autowired
    org.springframework.transaction.support.TransactionTemplate tx;
    @Autowired
    io.micrometer.core.instrument.MeterRegistry meters;

    private final List<WorkerAgent> agents = new ArrayList<>();
    private final List<Job> received = Collections.synchronizedList(new ArrayList<>());
    private final Map<JobKind, Integer> failuresToInject = new ConcurrentHashMap<>();
    /** While set, the host holds every START_DOMAIN until it is counted down (a slow boot). */
    private volatile CountDownLatch startHeld;
    /** What an injected failure says went wrong: a device's fault by default, which makes its GPUs suspect. */
    private volatile String injectedErrorCode = "partition-conflict";

    @AfterEach
    void stopAgents() {
        agents.forEach(WorkerAgent::close);
    }

    private void startHost(String name, String location) {
        HostTopology topology = TestTopologiesAccess.h100(name);
        WorkerAgent agent = new WorkerAgent(new ControlPlaneClient(URI.create("http://127.0.0.1:" + port)),
                known -> topology, bootstrapToken(), location, null);
        // the script answers single steps; a create sequence is run through it one sub-job at a time
        agent.withJobs(JobHandler.runningSequences(job -> {
            received.add(job);
            CountDownLatch held = startHeld;
            if (held != null && job.kind() == JobKind.START_DOMAIN) {
                try {
                    held.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            Integer left = failuresToInject.computeIfPresent(job.kind(), (k, v) -> v - 1);
            if (left != null && left >= 0) {
                return new JobResult(false, List.of(new JobResult.Step("fmpm -a " + job.partitionId(),
                        "fmpm -a " + job.partitionId(), 249, "Failed to activate partition. fmReturn: -7", 3, false)),
                        "an overlapping partition is active", injectedErrorCode, Map.of());
            }
            return new JobResult(true, List.of(new JobResult.Step(job.kind().name(), "sim", 0, "", 1, true)), null,
                    null, Map.of());
        }));
        agent.start();
        agents.add(agent);
        awaitCondition(() -> jdbc.sql("SELECT count(*) FROM host WHERE name = ? AND state = 'ready'").param(name)
                .query(Long.class).single() == 1, "host " + name + " ready");
    }

    private JsonNode vm(String admin, String id) {
        return call("GET", "/admin/api/v1/vms/" + id, admin, null).json();
    }

    private List<JobKind> kindsFor(String vmId) {
        return received.stream().filter(j -> j.vmId().toString().equals(vmId)).map(Job::kind).toList();
    }

    private long heldBy(String vmId) {
        return jdbc.sql("SELECT (SELECT count(*) FROM pci_device WHERE vm_id = ?::uuid) + (SELECT count(*) FROM vm_cpu WHERE vm_id = ?::uuid)")
                .params(vmId, vmId).query(Long.class).single();
    }

    @Test
    void aVmGoesThroughTheHostStepsInOrderAndGivesEverythingBackOnDelete() {
        startHost("wf-host-1", "wf-1");
        String admin = adminToken();
        var created = call("POST", "/admin/api/v1/vms", admin, Map.of("name", "train-1", "gpuModel",
                "H100-SXM5-80GB", "gpuCount", 2, "vcpus", 8, "memoryMiB", 16384, "location", "wf-1"));
        assertThat(created.status()).isEqualTo(202);
        String id = created.json().get("id").asString();

        JsonNode running = awaitVmState(admin, id, "running");
        assertThat(kindsFor(id)).containsExactly(JobKind.RESET_GPUS, JobKind.ACTIVATE_PARTITION, JobKind.BIND_VFIO,
                JobKind.DEFINE_DOMAIN, JobKind.START_DOMAIN);
        assertThat(running.get("hostName").asString()).isEqualTo("wf-host-1");
        assertThat(running.get("gpuBdfs")).hasSize(2);
        assertThat(running.get("jobs")).as("the create steps travel as one job").hasSize(1);
        JsonNode create = running.get("jobs").get(0);
        assertThat(create.get("kind").asString()).isEqualTo("SEQUENCE");
        assertThat(create.get("step").asString()).endsWith(":provision_on_host");
        assertThat(create.get("state").asString()).isEqualTo("succeeded");
        List<String> stepNames = new ArrayList<>();
        create.get("result").get("steps").forEach(st -> stepNames.add(st.get("name").asString()));
        assertThat(stepNames).as("each sub-job's steps, named by their kind").containsExactly(
                "RESET_GPUS: RESET_GPUS", "ACTIVATE_PARTITION: ACTIVATE_PARTITION", "BIND_VFIO: BIND_VFIO",
                "DEFINE_DOMAIN: DEFINE_DOMAIN", "START_DOMAIN: START_DOMAIN");
        Job define = received.stream().filter(j -> j.kind() == JobKind.DEFINE_DOMAIN).findFirst().orElseThrow();
        assertThat(define.domain().vcpus()).hasSize(8);
        assertThat(define.domain().devices()).filteredOn(d -> d.kind().equals("gpu")).hasSize(2);
        assertThat(define.domain().cells()).hasSize(1);
        assertThat(define.domain().cells().get(0).memoryMiB()).isEqualTo(16384);
        int partition = received.stream().filter(j -> j.kind() == JobKind.ACTIVATE_PARTITION).findFirst().orElseThrow()
                .partitionId();
        assertThat(running.get("partitionId").asInt()).isEqualTo(partition);

        assertThat(call("POST", "/admin/api/v1/vms/" + id + "/start", admin, null).status()).isEqualTo(409);
        assertThat(call("POST", "/admin/api/v1/vms/" + id + "/stop", admin, null).status()).isEqualTo(202);
        awaitVmState(admin, id, "stopped");
        assertThat(heldBy(id)).as("a stopped VM keeps its devices").isEqualTo(10);
        call("POST", "/admin/api/v1/vms/" + id + "/start", admin, null);
        awaitVmState(admin, id, "running");

        assertThat(call("DELETE", "/admin/api/v1/vms/" + id, admin, null).status()).isEqualTo(202);
        awaitVmState(admin, id, "deleted");
        List<JobKind> all = kindsFor(id);
        assertThat(all.subList(all.size() - 5, all.size())).containsExactly(JobKind.STOP_DOMAIN,
                JobKind.UNDEFINE_DOMAIN, JobKind.DEACTIVATE_PARTITION, JobKind.REBIND_HOST_DRIVER, JobKind.RESET_GPUS);
        List<String> sent = jdbc.sql("SELECT kind FROM worker_job WHERE vm_id = ?::uuid ORDER BY created_at")
                .param(id).query(String.class).list();
        assertThat(sent.get(sent.size() - 1)).as("the delete's steps went to the host as one job").isEqualTo("TEARDOWN");
        assertThat(sent).doesNotContain("UNDEFINE_DOMAIN", "REBIND_HOST_DRIVER");
        assertThat(heldBy(id)).isZero();
        assertThat(audit.violations()).isEmpty();
        assertThat(call("DELETE", "/admin/api/v1/vms/" + id, admin, null).status()).as("delete is idempotent")
                .isEqualTo(202);
    }

    @Test
    void aNewVmIsPendingAtOnceAndACreateSavedAtTheOldFirstLabelStillRuns() {
        startHost("wf-host-start", "wf-start");
        String admin = adminToken();
        var created = call("POST", "/admin/api/v1/vms", admin, Map.of("name", "first-1", "gpuModel", "H100-SXM5-80GB",
                "gpuCount", 1, "vcpus", 4, "memoryMiB", 8192, "location", "wf-start"));
        assertThat(created.json().get("state").asString()).isEqualTo("pending");
        assertThat(created.json().get("stateReason").asString()).isEqualTo("waiting for capacity");
        awaitVmState(admin, created.json().get("id").asString(), "running");

        // as an earlier version left a create: the VM row without its reason, the strand at "start"
        java.util.UUID project = jdbc.sql("SELECT project_id FROM vm WHERE id = ?::uuid")
                .param(created.json().get("id").asString()).query(java.util.UUID.class).single();
        java.util.UUID vm = java.util.UUID.randomUUID();
        java.util.UUID strand = java.util.UUID.randomUUID();
        tx.executeWithoutResult(t -> {
            jdbc.sql("""
                    INSERT INTO vm (id, project_id, name, instance_type, gpu_model, gpu_count, vcpus, memory_mib, location,
                                    placement)
                    VALUES (?, ?, 'first-2', 'custom', 'H100-SXM5-80GB', 1, 4, 8192, 'wf-start',
                            jsonb_build_object('strandId', ?::text))
                    """).params(vm, project, strand.toString()).update();
            strands.create(strand, VmProg.NAME, "start", Map.of("vmId", vm.toString()));
        });
        awaitVmState(admin, vm.toString(), "running");
        assertThat(kindsFor(vm.toString())).containsExactly(JobKind.RESET_GPUS, JobKind.ACTIVATE_PARTITION,
                JobKind.BIND_VFIO, JobKind.DEFINE_DOMAIN, JobKind.START_DOMAIN);
    }

    @Test
    void aDeleteSavedByAnEarlierVersionInItsPerStepLabelsStillFinishes() {
        startHost("wf-host-legacy", "wf-legacy");
        String admin = adminToken();
        String id = call("POST", "/admin/api/v1/vms", admin, Map.of("name", "legacy-1", "gpuModel", "H100-SXM5-80GB",
                "gpuCount", 2, "vcpus", 8, "memoryMiB", 16384, "location", "wf-legacy")).json().get("id").asString();
        awaitVmState(admin, id, "running");
        int before = kindsFor(id).size();
        // as an earlier version left it: deleting, in the first of the five labels that each sent one job
        java.util.UUID strand = jdbc.sql("SELECT (placement->>'strandId')::uuid FROM vm WHERE id = ?::uuid").param(id)
                .query(java.util.UUID.class).single();
        tx.executeWithoutResult(t -> {
            jdbc.sql("SELECT 1 FROM strand WHERE id = ? FOR UPDATE").param(strand).query(Integer.class).list();
            jdbc.sql("UPDATE vm SET state = 'deleting' WHERE id = ?::uuid").param(id).update();
            jdbc.sql("""
                    UPDATE strand SET label = 'shutdown_for_delete', schedule = now(), lease_until = NULL, lease_owner = NULL,
                           stack = jsonb_set(stack, '{cycle}', to_jsonb(coalesce((stack->>'cycle')::int, 0) + 1))
                     WHERE id = ?
                    """).param(strand).update();
        });
        strands.wake(strand);

        awaitVmState(admin, id, "deleted");
        assertThat(kindsFor(id).subList(before, kindsFor(id).size())).containsExactly(JobKind.STOP_DOMAIN,
                JobKind.UNDEFINE_DOMAIN, JobKind.DEACTIVATE_PARTITION, JobKind.REBIND_HOST_DRIVER, JobKind.RESET_GPUS);
        assertThat(jdbc.sql("SELECT count(*) FROM worker_job WHERE vm_id = ?::uuid AND kind = 'TEARDOWN'").param(id)
                .query(Long.class).single()).isZero();
        assertThat(heldBy(id)).isZero();
        assertThat(audit.violations()).isEmpty();
    }

    @Test
    void aFailingHostStepRollsBackMarksTheGpusSuspectAndRetriesElsewhere() {
        startHost("wf-host-2", "wf-2");
        failuresToInject.put(JobKind.ACTIVATE_PARTITION, 1);
        String admin = adminToken();
        String id = call("POST", "/admin/api/v1/vms", admin, Map.of("name", "retry-1", "gpuModel", "H100-SXM5-80GB",
                "gpuCount", 1, "vcpus", 4, "memoryMiB", 8192, "location", "wf-2")).json().get("id").asString();
        JsonNode running = awaitVmState(admin, id, "running");
        assertThat(running.get("provisionAttempts").asInt()).isEqualTo(2);
        List<JobKind> kinds = kindsFor(id);
        assertThat(kinds.subList(0, 6)).containsExactly(JobKind.RESET_GPUS, JobKind.ACTIVATE_PARTITION,
                JobKind.STOP_DOMAIN, JobKind.UNDEFINE_DOMAIN, JobKind.DEACTIVATE_PARTITION,
                JobKind.REBIND_HOST_DRIVER);
        List<String> suspect = jdbc.sql("""
                SELECT d.bdf FROM pci_device d JOIN host h ON h.id = d.host_id
                 WHERE h.name = 'wf-host-2' AND d.health = 'suspect'
                """).query(String.class).list();
        assertThat(suspect).hasSize(1);
        assertThat(running.get("gpuBdfs").get(0).asString()).as("the retry avoided the suspect GPU")
                .isNotEqualTo(suspect.get(0));
        String reason = jdbc.sql("""
                SELECT d.health_reason FROM pci_device d JOIN host h ON h.id = d.host_id
                 WHERE h.name = 'wf-host-2' AND d.health = 'suspect'
                """).query(String.class).single();
        assertThat(reason).contains("provision_on_host/activate_partition").contains("partition-conflict");
        JsonNode failedCreate = running.get("jobs").get(0);
        assertThat(failedCreate.get("kind").asString()).isEqualTo("SEQUENCE");
        assertThat(failedCreate.get("state").asString()).isEqualTo("failed");
        assertThat(failedCreate.get("result").get("errorCode").asString()).isEqualTo("partition-conflict");
        assertThat(failedCreate.get("result").get("facts").get("failedKind").asString())
                .isEqualTo("ACTIVATE_PARTITION");
        JsonNode failedStep = failedCreate.get("result").get("steps").get(1);
        assertThat(failedStep.get("name").asString()).isEqualTo("ACTIVATE_PARTITION: fmpm -a "
                + received.get(1).partitionId());
        assertThat(failedStep.get("exitCode").asInt()).isEqualTo(249);
        assertThat(failedStep.get("ok").asBoolean()).isFalse();
        assertThat(failedStep.get("output").asString()).contains("fmReturn: -7");
        assertThat(audit.violations()).isEmpty();
        call("DELETE", "/admin/api/v1/vms/" + id, admin, null);
        awaitVmState(admin, id, "deleted");
    }

    @Test
    void aVmThatKeepsFailingEndsFailedHoldingNothing() {
        startHost("wf-host-3", "wf-3");
        failuresToInject.put(JobKind.ACTIVATE_PARTITION, 10);
        String admin = adminToken();
        String id = call("POST", "/admin/api/v1/vms", admin, Map.of("name", "doomed-1", "gpuModel", "H100-SXM5-80GB",
                "gpuCount", 1, "vcpus", 4, "memoryMiB", 8192, "location", "wf-3")).json().get("id").asString();
        JsonNode failed = awaitVmState(admin, id, "failed");
        assertThat(failed.get("stateReason").asString()).contains("provisioning failed 3 times")
                .contains("partition-conflict");
        assertThat(heldBy(id)).isZero();
        assertThat(audit.violations()).isEmpty();
    }

    @Test
    void aRunningVmWaitsAtRunningAndADeleteDuringItsBootIsCarriedOutWhenTheBootEnds() {
        startHost("wf-host-boot", "wf-boot");
        String admin = adminToken();
        long runningLabelRuns = runsOfLabel("running");
        String id = call("POST", "/admin/api/v1/vms", admin, Map.of("name", "boot-1", "gpuModel", "H100-SXM5-80GB",
                "gpuCount", 1, "vcpus", 4, "memoryMiB", 8192, "location", "wf-boot")).json().get("id").asString();
        JsonNode running = awaitVmState(admin, id, "running");
        // the step that saw the VM start also left its strand waiting at "running" (no label run just to nap)
        var strand = jdbc.sql("""
                SELECT label, schedule > now() + interval '50 minutes' AS napping FROM strand
                 WHERE id = (SELECT (placement->>'strandId')::uuid FROM vm WHERE id = ?::uuid)
                """).param(id).query().singleRow();
        assertThat(strand.get("label")).isEqualTo("running");
        assertThat(strand.get("napping")).isEqualTo(true);
        assertThat(running.get("workflowLabel").asString()).isEqualTo("running");
        awaitQuiet();
        assertThat(runsOfLabel("running")).as("runs of the running label").isEqualTo(runningLabelRuns);
        call("DELETE", "/admin/api/v1/vms/" + id, admin, null);
        awaitVmState(admin, id, "deleted");

        // deleted while the host is still booting it: the delete waits for the boot, then tears it down
        CountDownLatch boot = new CountDownLatch(1);
        startHeld = boot;
        try {
            String slow = call("POST", "/admin/api/v1/vms", admin, Map.of("name", "boot-2", "gpuModel",
                    "H100-SXM5-80GB", "gpuCount", 1, "vcpus", 4, "memoryMiB", 8192, "location", "wf-boot"))
                    .json().get("id").asString();
            awaitCondition(() -> kindsFor(slow).contains(JobKind.START_DOMAIN), "the boot under way");
            assertThat(call("DELETE", "/admin/api/v1/vms/" + slow, admin, null).status()).isEqualTo(202);
            boot.countDown();
            awaitVmState(admin, slow, "deleted");
            assertThat(jdbc.sql("SELECT kind FROM worker_job WHERE vm_id = ?::uuid ORDER BY created_at").param(slow)
                    .query(String.class).list()).containsExactly("SEQUENCE", "TEARDOWN");
            assertThat(heldBy(slow)).isZero();
        } finally {
            startHeld = null;
            boot.countDown();
        }
        assertThat(audit.violations()).isEmpty();
    }

    @Test
    void aVmWaitingForCapacityTakesTheGpusOfADeletedVmAtOnce() {
        startHost("wf-host-cap", "wf-cap");
        String admin = adminToken();
        String holder = createBoardVm(admin, "cap-1", "wf-cap");
        awaitVmState(admin, holder, "running");
        String waiting = createBoardVm(admin, "cap-2", "wf-cap");
        awaitCapacityWithALongBackoff(admin, waiting);

        // what an operator alerts on while VMs wait for capacity
        awaitCondition(() -> gauge("gpucloud.vms", "pending") >= 1 && gauge("gpucloud.vms.pending.oldest", null) > 0,
                "the pending VM in the VM gauges");

        double retried = meters.counter("gpucloud.vms.capacity.retries", "cause", "vm-deleted").count();
        call("DELETE", "/admin/api/v1/vms/" + holder, admin, null);
        awaitVmState(admin, holder, "deleted");
        JsonNode running = awaitVmState(admin, waiting, "running");
        assertThat(meters.counter("gpucloud.vms.capacity.retries", "cause", "vm-deleted").count())
                .isGreaterThan(retried);
        assertThat(running.get("hostName").asString()).isEqualTo("wf-host-cap");
        assertThat(running.get("gpuBdfs")).hasSize(8);

        call("DELETE", "/admin/api/v1/vms/" + waiting, admin, null);
        awaitVmState(admin, waiting, "deleted");
        assertThat(heldBy(waiting)).isZero();
        assertThat(audit.violations()).isEmpty();
    }

    @Test
    void aVmWaitingForCapacityTakesTheGpusOfAFailedCreateAtOnce() {
        startHost("wf-host-rb", "wf-rb");
        String admin = adminToken();
        CountDownLatch boot = new CountDownLatch(1);
        startHeld = boot;
        injectedErrorCode = "libvirt-error"; // the domain's fault, not the GPUs': they stay healthy
        failuresToInject.put(JobKind.START_DOMAIN, 1);
        try {
            String failing = createBoardVm(admin, "rb-1", "wf-rb");
            awaitCondition(() -> kindsFor(failing).contains(JobKind.START_DOMAIN), "the first VM's boot under way");
            String waiting = createBoardVm(admin, "rb-2", "wf-rb");
            awaitCapacityWithALongBackoff(admin, waiting);

            // the boot fails; the create rolls back and, deleted meanwhile, ends there
            double retried = meters.counter("gpucloud.vms.capacity.retries", "cause", "vm-rolled-back").count();
            assertThat(call("DELETE", "/admin/api/v1/vms/" + failing, admin, null).status()).isEqualTo(202);
            boot.countDown();
            assertThat(awaitVmState(admin, failing, "deleted").get("stateReason").asString())
                    .startsWith("deleted while provisioning failed");
            JsonNode running = awaitVmState(admin, waiting, "running");
            assertThat(running.get("gpuBdfs")).hasSize(8);
            assertThat(meters.counter("gpucloud.vms.capacity.retries", "cause", "vm-rolled-back").count())
                    .isGreaterThan(retried);
            assertThat(heldBy(failing)).isZero();

            call("DELETE", "/admin/api/v1/vms/" + waiting, admin, null);
            awaitVmState(admin, waiting, "deleted");
        } finally {
            startHeld = null;
            boot.countDown();
            injectedErrorCode = "partition-conflict";
        }
        assertThat(audit.violations()).isEmpty();
    }

    @Test
    void aVmWaitingForCapacityStartsAsSoonAsAHostIsUndrained() {
        startHost("wf-host-drain", "wf-drain");
        String admin = adminToken();
        String hostId = jdbc.sql("SELECT id::text FROM host WHERE name = 'wf-host-drain'").query(String.class).single();
        assertThat(call("POST", "/admin/api/v1/hosts/" + hostId + "/drain", admin, null).status()).isLessThan(300);
        String waiting = call("POST", "/admin/api/v1/vms", admin, Map.of("name", "drain-1", "gpuModel",
                "H100-SXM5-80GB", "gpuCount", 1, "vcpus", 4, "memoryMiB", 8192, "location", "wf-drain"))
                .json().get("id").asString();
        awaitCapacityWithALongBackoff(admin, waiting);

        assertThat(call("POST", "/admin/api/v1/hosts/" + hostId + "/undrain", admin, null).status()).isLessThan(300);
        assertThat(awaitVmState(admin, waiting, "running").get("hostName").asString()).isEqualTo("wf-host-drain");
        call("DELETE", "/admin/api/v1/vms/" + waiting, admin, null);
        awaitVmState(admin, waiting, "deleted");
        assertThat(audit.violations()).isEmpty();
    }

    @Test
    void aSuspectGpuReturnedToServiceByAnOperatorTakesTheVmWaitingForIt() {
        startHost("wf-host-rts", "wf-rts");
        String admin = adminToken();
        String hostId = jdbc.sql("SELECT id::text FROM host WHERE name = 'wf-host-rts'").query(String.class).single();
        String bdf = jdbc.sql("SELECT min(bdf) FROM pci_device WHERE host_id = ?::uuid AND kind = 'gpu'").param(hostId)
                .query(String.class).single();
        // as a failed create leaves it (markSuspect): placement avoids the GPU, so no whole board is free
        jdbc.sql("UPDATE pci_device SET health = 'suspect', health_reason = 'VM x failed in provision_on_host' "
                + "WHERE host_id = ?::uuid AND bdf = ?").params(hostId, bdf).update();
        String waiting = createBoardVm(admin, "rts-1", "wf-rts");
        awaitCapacityWithALongBackoff(admin, waiting);

        String path = "/admin/api/v1/hosts/" + hostId + "/devices/";
        assertProblem(call("POST", path + "0000:ff:1f.7/return-to-service", admin, null), 404);
        Response returned = call("POST", path + bdf + "/return-to-service", admin,
                Map.of("reason", "reseated; dcgmi diag passed"));
        assertThat(returned.status()).isEqualTo(200);
        JsonNode gpu = null;
        for (JsonNode d : returned.json().get("pciDevices")) {
            gpu = d.get("bdf").asString().equals(bdf) ? d : gpu;
        }
        assertThat(gpu.get("health").asString()).isEqualTo("ok");
        assertThat(jdbc.sql("SELECT health_reason FROM pci_device WHERE host_id = ?::uuid AND bdf = ?")
                .params(hostId, bdf).query(String.class).single())
                .isEqualTo("returned to service (was suspect): reseated; dcgmi diag passed");
        assertThat(awaitVmState(admin, waiting, "running").get("gpuBdfs")).hasSize(8);
        assertThat(call("POST", path + bdf + "/return-to-service", admin, null).status()).as("again: no change")
                .isEqualTo(200);

        call("DELETE", "/admin/api/v1/vms/" + waiting, admin, null);
        awaitVmState(admin, waiting, "deleted");
        jdbc.sql("UPDATE pci_device SET health = 'missing' WHERE host_id = ?::uuid AND bdf = ?").params(hostId, bdf)
                .update();
        assertProblem(call("POST", path + bdf + "/return-to-service", admin, null), 409);
        jdbc.sql("UPDATE pci_device SET health = 'ok' WHERE host_id = ?::uuid AND bdf = ?").params(hostId, bdf)
                .update();
        assertThat(audit.violations()).isEmpty();
    }

    /** An 8-GPU H100 VM, a whole board, in {@code location}; its id. */
    private String createBoardVm(String admin, String name, String location) {
        return call("POST", "/admin/api/v1/vms", admin, Map.of("name", name, "gpuModel", "H100-SXM5-80GB", "gpuCount", 8,
                "vcpus", 8, "memoryMiB", 16384, "location", location)).json().get("id").asString();
    }

    /**
     * Waits until the VM is pending for lack of capacity, then pushes its next try ten minutes out, as
     * if it had waited long: from then on only a wake-up can bring it on within the test's wait.
     */
    private void awaitCapacityWithALongBackoff(String admin, String vmId) {
        JsonNode pending = awaitValue(() -> {
            JsonNode v = vm(admin, vmId);
            return v.get("stateReason").asString("").startsWith("no capacity") ? v : null;
        }, "VM " + vmId + " to wait for capacity");
        assertThat(pending.get("state").asString()).isEqualTo("pending");
        jdbc.sql("""
                UPDATE strand SET schedule = now() + interval '10 minutes'
                 WHERE id = (SELECT (placement->>'strandId')::uuid FROM vm WHERE id = ?::uuid)
                """).param(vmId).update();
    }

    private double gauge(String name, String state) {
        var search = meters.find(name);
        var g = (state == null ? search : search.tag("state", state)).gauge();
        return g == null ? 0 : g.value();
    }

    private long runsOfLabel(String label) {
        return meters.find("gpucloud.workflow.label.duration").tag("prog", VmProg.NAME).tag("label", label).timers()
                .stream().mapToLong(io.micrometer.core.instrument.Timer::count).sum();
    }

    /** Long enough for a label hopped to now to have run (the dispatcher runs hops at once). */
    private static void awaitQuiet() {
        try {
            Thread.sleep(300);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void aVmWithNoCapacityWaitsWithAReasonAndCanBeCancelled() {
        String admin = adminToken();
        String id = call("POST", "/admin/api/v1/vms", admin, Map.of("name", "nowhere-1", "gpuModel", "H100-SXM5-80GB",
                "gpuCount", 8, "vcpus", 4, "memoryMiB", 8192, "location", "wf-empty")).json().get("id").asString();
        awaitCondition(() -> {
            JsonNode v = vm(admin, id);
            return v.get("stateReason").asString("").startsWith("no capacity: 0 hosts");
        }, "a no-capacity explanation");
        assertThat(vm(admin, id).get("state").asString()).isEqualTo("pending");
        call("DELETE", "/admin/api/v1/vms/" + id, admin, null);
        awaitVmState(admin, id, "deleted");
    }

    @Test
    void badVmRequestsAreRejectedPrecisely() {
        String admin = adminToken();
        var r = call("POST", "/admin/api/v1/vms", admin, Map.of("name", "Bad Name!", "gpuCount", 1, "gpuModel", "x",
                "vcpus", 4, "memoryMiB", 8192));
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().get("field").asString()).isEqualTo("name");
        r = call("POST", "/admin/api/v1/vms", admin, Map.of("name", "ok-name", "gpuCount", 3, "gpuModel", "x",
                "vcpus", 4, "memoryMiB", 8192));
        assertThat(r.json().get("field").asString()).isEqualTo("gpuCount");
        assertThat(call("DELETE", "/admin/api/v1/vms/" + java.util.UUID.randomUUID(), admin, null).status())
                .isEqualTo(404);
    }
}
