package io.gpucloud.controlplane.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.placement.PlacementAudit;
import io.gpucloud.worker.agent.ControlPlaneClient;
import io.gpucloud.worker.agent.CredentialStore;
import io.gpucloud.worker.agent.WorkerAgent;
import io.gpucloud.worker.job.JobExecutor;
import io.gpucloud.worker.libvirt.DomainState;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.sim.SimulatedHostSpec;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import tools.jackson.databind.JsonNode;

/**
 * Restart reconciliation on a simulated HGX H100 driven by the real worker code: after a "reboot"
 * (fresh sysfs with every GPU on nvidia, Fabric Manager with nothing active, an empty libvirt), the
 * restarted worker's report makes the control plane restore its VMs through the job queue — partition
 * active, GPUs on vfio-pci, domain running (or only defined, for a stopped VM) — while a domain and a
 * partition nobody owns are reported as orphans and left alone.
 */
class HostRestartReconcileTest extends ControlPlaneTestBase {

    private static final SimulatedHostSpec SPEC = SimulatedHostSpec.hgxH100("rc-host-1");
    private static final String LOCATION = "rc-1";

    @Autowired
    PlacementAudit audit;

    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    /** One boot of the server: its hardware, its libvirt, and a worker resuming with the saved identity. */
    private record Boot(SimulatedHost host, JobExecutor executor, WorkerAgent agent) {
    }

    private Boot boot(Path workerDir, String bootstrap) throws Exception {
        SimulatedHost host = SimulatedHost.inTempDirectory(SPEC);
        JobExecutor executor = JobExecutor.forSimulatedHost(host, workerDir.resolve("state"));
        WorkerAgent agent = new WorkerAgent(new ControlPlaneClient(URI.create("http://127.0.0.1:" + port)),
                host::discover, bootstrap, LOCATION, new CredentialStore(workerDir.resolve("identity.properties")));
        agent.withJobs(executor::execute).withReconcile(() -> executor.reconciler().snapshot().toReport());
        open.add(host);
        open.add(executor);
        open.add(agent);
        return new Boot(host, executor, agent);
    }

    private void shutDown(Boot b) throws Exception {
        b.agent().close();
        b.executor().close();
        b.host().close();
        open.removeAll(List.of(b.agent(), b.executor(), b.host()));
    }

    @Test
    void aRebootedHostGetsItsVmsBackAndItsOrphansReported() throws Exception {
        Path workerDir = Files.createTempDirectory("rc-worker-");
        String admin = adminToken();
        Boot first = boot(workerDir, bootstrapToken());
        first.agent().start();
        awaitCondition(() -> first.agent().identity().isPresent() && jdbc.sql(
                "SELECT count(*) FROM host WHERE name = ? AND state = 'ready'")
                .param(SPEC.hostName()).query(Long.class).single() == 1, "host ready");
        UUID hostId = first.agent().identity().orElseThrow().hostId();

        String running = createVm(admin, "rc-running", 2);
        String stopped = createVm(admin, "rc-stopped", 1);
        JsonNode before = awaitVmState(admin, running, "running");
        awaitVmState(admin, stopped, "running");
        call("POST", "/admin/api/v1/vms/" + stopped + "/stop", admin, null);
        awaitVmState(admin, stopped, "stopped");
        int partition = before.get("partitionId").asInt();
        int stoppedPartition = vm(admin, stopped).get("partitionId").asInt();
        List<String> gpus = strings(before.get("gpuBdfs"));

        // ---- the server reboots: the worker goes, the hardware forgets, the worker comes back ----
        shutDown(first);
        Boot second = boot(workerDir, null); // no bootstrap token: it must resume with its saved credential
        assertThat(second.host().fmpm().activePartitions()).isEmpty();
        gpus.forEach(b -> assertThat(second.host().driver(b)).contains("nvidia"));
        // left behind by something else: a domain and a partition no VM owns
        UUID orphanDomain = UUID.randomUUID();
        second.executor().hypervisor().define("""
                <domain type='test'><name>vm-%s</name><uuid>%s</uuid><memory unit='MiB'>1024</memory>
                <os><type>hvm</type></os></domain>""".formatted(orphanDomain, orphanDomain));
        int orphanPartition = jdbc.sql("""
                SELECT p.partition_id FROM gpu_partition p WHERE p.host_id = ? AND p.gpu_count = 1 AND p.vm_id IS NULL
                   AND NOT EXISTS (SELECT 1 FROM gpu_partition q WHERE q.host_id = p.host_id AND q.vm_id IS NOT NULL
                                     AND q.module_ids && p.module_ids)
                 ORDER BY p.partition_id LIMIT 1
                """).param(hostId).query(Integer.class).single();
        assertThat(second.host().fmpm().run("-a", String.valueOf(orphanPartition)).exitCode()).isZero();
        second.agent().start();

        JsonNode restored = awaitValue(() -> {
            JsonNode v = vm(admin, running);
            return v.get("state").asString().equals("running") && v.get("jobs").size() > 1 ? v : null;
        }, "the running VM to be restored");
        assertThat(second.host().fmpm().activePartitions()).contains(partition, orphanPartition);
        gpus.forEach(b -> assertThat(second.host().driver(b)).as(b).contains("vfio-pci"));
        assertThat(domainState(second, running)).isEqualTo(DomainState.RUNNING);
        List<String> restoreSteps = new ArrayList<>();
        restored.get("jobs").forEach(j -> {
            if (j.get("step").asString().contains(":restore_")) {
                restoreSteps.add(j.get("kind").asString() + ":" + j.get("state").asString());
            }
        });
        assertThat(restoreSteps).as("visible in the VM's job timeline").containsExactly(
                "ACTIVATE_PARTITION:succeeded", "BIND_VFIO:succeeded", "DEFINE_DOMAIN:succeeded",
                "START_DOMAIN:succeeded");

        // the stopped VM is made ready to start again, but not started
        awaitCondition(() -> domainState(second, stopped) != DomainState.NOT_DEFINED
                && vm(admin, stopped).get("stateReason").isNull(), "the stopped VM to be restored");
        assertThat(vm(admin, stopped).get("state").asString()).isEqualTo("stopped");
        assertThat(second.host().fmpm().activePartitions()).contains(stoppedPartition);
        assertThat(domainState(second, stopped)).isEqualTo(DomainState.SHUT_OFF);
        strings(vm(admin, stopped).get("gpuBdfs")).forEach(b -> assertThat(second.host().driver(b)).contains("vfio-pci"));

        // orphans: reported on the host, in the audit log, and left exactly as they were
        JsonNode problems = call("GET", "/admin/api/v1/hosts/" + hostId, admin, null).json().get("problems");
        Map<String, String> orphans = new java.util.TreeMap<>();
        problems.forEach(p -> {
            if (p.get("code").asString().startsWith("orphan-")) {
                orphans.put(p.get("code").asString(), p.get("subject").asString());
            }
        });
        assertThat(orphans).containsExactlyInAnyOrderEntriesOf(Map.of("orphan-domain", orphanDomain.toString(),
                "orphan-partition", String.valueOf(orphanPartition)));
        assertThat(jdbc.sql("""
                SELECT count(*) FROM audit_event WHERE action = 'host.reconcile' AND target_id = ?
                   AND result = 'orphans-found'
                """).param(hostId.toString()).query(Long.class).single()).isEqualTo(1);
        assertThat(domainState(second, orphanDomain.toString())).isEqualTo(DomainState.SHUT_OFF);
        assertThat(second.host().fmpm().activePartitions()).contains(orphanPartition);
        assertThat(audit.violations()).isEmpty();

        // a worker restart without a reboot finds everything in place: nothing to restore, no new jobs
        int jobsBefore = vm(admin, running).get("jobs").size();
        long reportsBefore = reconcileReports(hostId);
        WorkerAgent again = new WorkerAgent(new ControlPlaneClient(URI.create("http://127.0.0.1:" + port)),
                second.host()::discover, null, LOCATION, new CredentialStore(workerDir.resolve("identity.properties")));
        second.agent().close();
        open.add(again);
        again.withJobs(second.executor()::execute)
                .withReconcile(() -> second.executor().reconciler().snapshot().toReport());
        again.start();
        awaitCondition(() -> reconcileReports(hostId) == reportsBefore + 1, "the next reconcile report");
        assertThat(vm(admin, running).get("jobs")).hasSize(jobsBefore);

        for (String id : List.of(running, stopped)) {
            call("DELETE", "/admin/api/v1/vms/" + id, admin, null);
            awaitVmState(admin, id, "deleted");
        }
        assertThat(second.host().fmpm().activePartitions()).containsExactly(orphanPartition);
        assertThat(audit.violations()).isEmpty();
    }

    private long reconcileReports(UUID hostId) {
        return jdbc.sql("SELECT count(*) FROM audit_event WHERE action = 'host.reconcile' AND target_id = ?")
                .param(hostId.toString()).query(Long.class).single();
    }

    private static DomainState domainState(Boot boot, String vmId) {
        try {
            return boot.executor().hypervisor().state(UUID.fromString(vmId));
        } catch (io.gpucloud.worker.libvirt.HypervisorException e) {
            throw new IllegalStateException(e);
        }
    }

    private String createVm(String admin, String name, int gpus) {
        var r = call("POST", "/admin/api/v1/vms", admin, Map.of("name", name, "gpuModel", "H100-SXM5-80GB",
                "gpuCount", gpus, "vcpus", 4, "memoryMiB", 8192, "location", LOCATION));
        assertThat(r.status()).as(r.body()).isEqualTo(202);
        return r.json().get("id").asString();
    }

    private JsonNode vm(String admin, String id) {
        return call("GET", "/admin/api/v1/vms/" + id, admin, null).json();
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asString()));
        return out;
    }
}
