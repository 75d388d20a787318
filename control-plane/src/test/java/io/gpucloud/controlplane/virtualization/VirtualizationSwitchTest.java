package io.gpucloud.controlplane.virtualization;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.worker.agent.ControlPlaneClient;
import io.gpucloud.worker.agent.WorkerAgent;
import io.gpucloud.worker.catalog.VirtualizationCatalog.MigPlacement;
import io.gpucloud.worker.job.JobExecutor;
import io.gpucloud.worker.nvidiasmi.SimulatedNvidiaSmi.MigStatus;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.sim.SimulatedHostSpec;
import java.net.URI;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * Switching a simulated HGX H100's GPU virtualization mode end to end: the admin API, the strand, the
 * real worker's SET_VIRTUALIZATION_MODE job against the nvidia-smi simulator, and placement's view of
 * the host before, during and after.
 */
class VirtualizationSwitchTest extends ControlPlaneTestBase {

    @org.springframework.beans.factory.annotation.Autowired
    io.gpucloud.controlplane.gateway.JobQueue jobQueue;
    @org.springframework.beans.factory.annotation.Autowired
    io.gpucloud.controlplane.workflow.StrandStore strands;

    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    private record Booted(SimulatedHost host, UUID hostId, WorkerAgent agent) {
    }

    private Booted boot(String name, String location) throws Exception {
        SimulatedHost host = SimulatedHost.inTempDirectory(SimulatedHostSpec.hgxH100(name));
        JobExecutor executor = JobExecutor.forSimulatedHost(host, Files.createTempDirectory("virt-worker-"));
        WorkerAgent agent = new WorkerAgent(new ControlPlaneClient(URI.create("http://127.0.0.1:" + port)),
                host::discover, bootstrapToken(), location, null);
        agent.withJobs(executor::execute);
        open.add(host);
        open.add(executor);
        open.add(agent);
        agent.start();
        awaitCondition(() -> jdbc.sql("SELECT count(*) FROM host WHERE name = ? AND state = 'ready'").param(name)
                .query(Long.class).single() == 1, "host " + name + " ready");
        UUID id = jdbc.sql("SELECT id FROM host WHERE name = ?").param(name).query(UUID.class).single();
        return new Booted(host, id, agent);
    }

    private Response put(String admin, UUID host, Object body) {
        return call("PUT", "/admin/api/v1/hosts/" + host + "/virtualization", admin, body);
    }

    private JsonNode awaitStatus(String admin, UUID host, String status) {
        return awaitValue(() -> {
            JsonNode v = call("GET", "/admin/api/v1/hosts/" + host + "/virtualization", admin, null).json();
            return v.get("status").asString().equals(status) ? v : null;
        }, "host " + host + " virtualization " + status);
    }

    private JsonNode preview(String admin, String location) {
        return call("POST", "/admin/api/v1/placement/preview", admin, Map.of("gpuModel", "H100-SXM5-80GB",
                "gpuCount", 1, "vcpus", 4, "memoryMiB", 8192, "location", location)).json();
    }

    private double counter(String mode, String result) {
        String line = getText("/actuator/prometheus").lines()
                .filter(l -> l.startsWith("gpucloud_virtualization_switches_total{") && l.contains("mode=\"" + mode + "\"")
                        && l.contains("result=\"" + result + "\""))
                .findFirst().orElse(null);
        return line == null ? 0 : Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
    }

    @Test
    void anH100GoesToMigAndBackAndPlacementFollows() throws Exception {
        Booted b = boot("virt-h100-1", "virt-1");
        String admin = adminToken();
        double succeededBefore = counter("mig", "succeeded");

        JsonNode catalog = call("GET", "/admin/api/v1/virtualization-modes?hostId=" + b.hostId(), admin, null).json();
        Map<String, Boolean> applicable = new java.util.TreeMap<>();
        catalog.get("modes").forEach(m -> applicable.put(m.get("id").asString(), m.get("applicable").asBoolean()));
        assertThat(applicable).containsEntry("passthrough", true).containsEntry("mig", true)
                .containsEntry("hami", true).containsEntry("cambricon_dsmlu", false)
                .containsEntry("cambricon_env_share", false);
        assertThat(catalog.get("migProfiles").get(0).get("name").asString()).isEqualTo("1g.10gb");

        var accepted = put(admin, b.hostId(), Map.of("mode", "mig", "params", Map.of("profiles", List.of(19, 19, 9))));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        assertThat(accepted.json().get("status").asString()).isEqualTo("switching");
        assertThat(accepted.json().get("requestedMode").asString()).isEqualTo("mig");
        assertThat(accepted.json().get("mode").asString()).isEqualTo("passthrough");

        JsonNode ready = awaitStatus(admin, b.hostId(), "ready");
        assertThat(ready.get("mode").asString()).isEqualTo("mig");
        assertThat(ready.get("params").get("profiles").toString()).isEqualTo("[19,19,9]");
        assertThat(ready.get("requestedMode").isNull()).isTrue();
        for (String gpu : b.host().gpuBdfs()) {
            MigStatus st = b.host().nvidiaSmi().migStatus(gpu);
            assertThat(st.current()).as(gpu).isTrue();
            assertThat(st.instances()).as(gpu).containsExactly(new MigPlacement(19, 0), new MigPlacement(19, 1),
                    new MigPlacement(9, 4));
        }
        assertThat(b.host().nvidiaSmi().run("-q").stdout()).containsPattern("MIG Mode\\n\\s+Current\\s+: Enabled");
        JsonNode detail = call("GET", "/admin/api/v1/hosts/" + b.hostId(), admin, null).json();
        assertThat(detail.get("virtualizationMode").asString()).isEqualTo("mig");
        assertThat(detail.get("virtualizationParams").get("profiles")).hasSize(3);
        assertThat(counter("mig", "succeeded")).isEqualTo(succeededBefore + 1);

        JsonNode refused = preview(admin, "virt-1");
        assertThat(refused.get("placeable").asBoolean()).isFalse();
        assertThat(refused.get("explanation").asString()).contains("1 not in passthrough mode");
        var vm = call("POST", "/admin/api/v1/vms", admin, Map.of("name", "virt-vm-mig", "gpuModel", "H100-SXM5-80GB",
                "gpuCount", 1, "vcpus", 4, "memoryMiB", 8192, "location", "virt-1"));
        String waiting = vm.json().get("id").asString();
        awaitCondition(() -> call("GET", "/admin/api/v1/vms/" + waiting, admin, null).json().get("stateReason")
                .asString("").contains("not in passthrough mode"), "the VM to wait with the reason");
        assertThat(call("DELETE", "/admin/api/v1/vms/" + waiting, admin, null).status()).isEqualTo(202);
        awaitVmState(admin, waiting, "deleted");

        // back to passthrough: MIG off on every GPU, and VMs place again
        assertThat(put(admin, b.hostId(), Map.of("mode", "passthrough")).status()).isEqualTo(202);
        JsonNode back = awaitStatus(admin, b.hostId(), "ready");
        assertThat(back.get("mode").asString()).isEqualTo("passthrough");
        for (String gpu : b.host().gpuBdfs()) {
            MigStatus st = b.host().nvidiaSmi().migStatus(gpu);
            assertThat(st.current()).isFalse();
            assertThat(st.instances()).isEmpty();
        }
        assertThat(preview(admin, "virt-1").get("placeable").asBoolean()).isTrue();

        // a host that is switching takes no VMs, and says so
        jdbc.sql("UPDATE host SET virtualization_status = 'switching' WHERE id = ?").param(b.hostId()).update();
        try {
            JsonNode switching = preview(admin, "virt-1");
            assertThat(switching.get("placeable").asBoolean()).isFalse();
            assertThat(switching.get("explanation").asString()).contains("1 switching GPU virtualization mode");
            var again = put(admin, b.hostId(), Map.of("mode", "mig", "params", Map.of("profiles", List.of(0))));
            assertThat(again.status()).isEqualTo(409);
            assertThat(again.json().get("type").asString()).endsWith("/virtualization-switching");
        } finally {
            jdbc.sql("UPDATE host SET virtualization_status = 'ready' WHERE id = ?").param(b.hostId()).update();
        }

        // a host with a VM cannot switch
        String id = call("POST", "/admin/api/v1/vms", admin, Map.of("name", "virt-vm-1", "gpuModel", "H100-SXM5-80GB",
                "gpuCount", 1, "vcpus", 4, "memoryMiB", 8192, "location", "virt-1")).json().get("id").asString();
        awaitVmState(admin, id, "running");
        var busy = put(admin, b.hostId(), Map.of("mode", "mig", "params", Map.of("profiles", List.of(0))));
        assertThat(busy.status()).isEqualTo(409);
        assertThat(busy.json().get("vmCount").asInt()).isEqualTo(1);
        assertThat(busy.json().get("detail").asString()).contains("holds 1 VM");
        call("DELETE", "/admin/api/v1/vms/" + id, admin, null);
        awaitVmState(admin, id, "deleted");
        assertThat(call("GET", "/admin/api/v1/hosts/" + b.hostId() + "/virtualization", admin, null).json()
                .get("status").asString()).isEqualTo("ready");
        assertThat(jdbc.sql("SELECT count(*) FROM audit_event WHERE target_id = ? AND action = "
                + "'host.virtualization-switch-completed'").param(b.hostId().toString()).query(Long.class).single())
                .isEqualTo(2);
    }

    @Test
    void badRequestsNameTheOffendingField() throws Exception {
        Booted b = boot("virt-h100-2", "virt-2");
        String admin = adminToken();
        record Case(Object body, String field) {
        }
        List<Case> cases = List.of(
                new Case(Map.of("mode", "vgpu"), "mode"),
                new Case(Map.of("mode", "cambricon_dsmlu", "params", Map.of("minDsmluUnit", 1)), "mode"),
                // a 2g at slices 0-1 leaves no start for the 4g (it may only start at 0)
                new Case(Map.of("mode", "mig", "params", Map.of("profiles", List.of(14, 5))), "params.profiles"),
                new Case(Map.of("mode", "mig", "params", Map.of("profiles", List.of(9, 9, 19))), "params.profiles"),
                new Case(Map.of("mode", "mig", "params", Map.of("profiles", List.of(42))), "params.profiles"),
                new Case(Map.of("mode", "mig", "params", Map.of("profiles", List.of())), "params.profiles"),
                new Case(Map.of("mode", "hami", "params", Map.of("deviceSplitCount", 65)), "params.deviceSplitCount"),
                new Case(Map.of("mode", "hami", "params", Map.of("deviceMemoryScaling", 0)), "params.deviceMemoryScaling"),
                new Case(Map.of("mode", "hami", "params", Map.of("deviceCoreScaling", 4.5)), "params.deviceCoreScaling"),
                new Case(Map.of("mode", "passthrough", "params", Map.of("profiles", List.of(0))), "params.profiles"));
        for (Case c : cases) {
            var r = put(admin, b.hostId(), c.body());
            assertThat(r.status()).as(r.body()).isEqualTo(422);
            assertThat(r.contentType()).contains("application/problem+json");
            assertThat(r.json().get("field").asString()).as(r.body()).isEqualTo(c.field());
        }
        var packing = put(admin, b.hostId(), Map.of("mode", "mig", "params", Map.of("profiles", List.of(14, 5))));
        assertThat(packing.json().get("detail").asString()).contains("4g.40gb").contains("2g.20gb@0");
        assertThat(call("GET", "/admin/api/v1/hosts/" + b.hostId() + "/virtualization", admin, null).json()
                .get("status").asString()).isEqualTo("ready");
        assertThat(put(admin, UUID.randomUUID(), Map.of("mode", "mig")).status()).isEqualTo(404);

        // HAMi with defaults filled in
        assertThat(put(admin, b.hostId(), Map.of("mode", "hami", "params", Map.of("deviceSplitCount", 4))).status())
                .isEqualTo(202);
        JsonNode hami = awaitStatus(admin, b.hostId(), "ready");
        assertThat(hami.get("mode").asString()).isEqualTo("hami");
        assertThat(hami.get("params").get("deviceSplitCount").asInt()).isEqualTo(4);
        assertThat(hami.get("params").get("deviceMemoryScaling").asDouble()).isEqualTo(1.0);
    }

    @Test
    void aBusyGpuLeavesTheHostSwitchFailedWithNvidiaSmisWordsAndTheOldMode() throws Exception {
        Booted b = boot("virt-h100-3", "virt-3");
        String admin = adminToken();
        String gpu = b.host().gpuBdfs().get(2);
        b.host().nvidiaSmi().hold(gpu, "python train.py");
        double failedBefore = counter("mig", "failed");

        assertThat(put(admin, b.hostId(), Map.of("mode", "mig", "params", Map.of("profiles", List.of(0)))).status())
                .isEqualTo(202);
        JsonNode failed = awaitStatus(admin, b.hostId(), "switch_failed");
        assertThat(failed.get("mode").asString()).isEqualTo("passthrough");
        assertThat(failed.get("requestedMode").asString()).isEqualTo("mig");
        assertThat(failed.get("reason").asString()).contains("In use by another client").contains("pending")
                .contains("[device-busy]");
        assertThat(counter("mig", "failed")).isEqualTo(failedBefore + 1);
        JsonNode refused = preview(admin, "virt-3");
        assertThat(refused.get("placeable").asBoolean()).isFalse();
        assertThat(refused.get("explanation").asString()).contains("1 failed a GPU virtualization mode switch");

        // the operator stops the process and switches back: the pending MIG change is undone
        b.host().nvidiaSmi().release(gpu);
        assertThat(put(admin, b.hostId(), Map.of("mode", "passthrough")).status()).isEqualTo(202);
        JsonNode ready = awaitStatus(admin, b.hostId(), "ready");
        assertThat(ready.get("mode").asString()).isEqualTo("passthrough");
        assertThat(ready.get("reason").isNull()).isTrue();
        for (String g : b.host().gpuBdfs()) {
            assertThat(b.host().nvidiaSmi().migStatus(g).current()).isFalse();
            assertThat(b.host().nvidiaSmi().migStatus(g).pending()).isFalse();
        }
        assertThat(preview(admin, "virt-3").get("placeable").asBoolean()).isTrue();
    }

    @Test
    void aSwitchNoWorkerTakesFailsAfterTheTakeTimeoutAndIsNeverRunLater() throws Exception {
        Booted b = boot("virt-h100-4", "virt-4");
        String admin = adminToken();
        b.agent().close(); // the worker goes away
        jobQueue.endPolls(b.hostId()); // as its next poll would: its last long poll takes nothing more

        assertThat(put(admin, b.hostId(), Map.of("mode", "mig", "params", Map.of("profiles", List.of(0)))).status())
                .isEqualTo(202);
        UUID strand = awaitValue(() -> jdbc.sql("""
                SELECT strand_id FROM worker_job WHERE host_id = ? AND kind = 'SET_VIRTUALIZATION_MODE'
                """).param(b.hostId()).query(UUID.class).optional().orElse(null), "the switch job enqueued");
        assertThat(call("GET", "/admin/api/v1/hosts/" + b.hostId() + "/virtualization", admin, null).json()
                .get("status").asString()).isEqualTo("switching");

        // the take timeout (10 min by default) runs out: the strand's deadline is moved into the past; if
        // the vanished worker's last long poll still took the job, that lease has run out by now too
        jdbc.sql("UPDATE worker_job SET lease_until = now() - interval '1 second' WHERE strand_id = ? AND state = 'leased'")
                .param(strand).update();
        jdbc.sql("UPDATE strand SET stack = jsonb_set(stack, '{takeBy}', to_jsonb('2000-01-01T00:00:00Z'::text)) "
                + "WHERE id = ?").param(strand).update();
        strands.wake(strand);
        JsonNode failed = awaitStatus(admin, b.hostId(), "switch_failed");
        assertThat(failed.get("mode").asString()).isEqualTo("passthrough");
        assertThat(failed.get("reason").asString()).contains("no host worker took the switch")
                .contains("[worker-absent]");
        // withdrawn for good: a worker that comes back later is not handed the stale switch
        assertThat(jobQueue.lease(b.hostId(), java.time.Duration.ZERO)).isEmpty();
        for (String g : b.host().gpuBdfs()) {
            assertThat(b.host().nvidiaSmi().migStatus(g).current()).isFalse();
        }
    }
}
