package io.gpucloud.controlplane.inventory;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.protocol.Heartbeat;
import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.RegisterRequest;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.ApplicationEventPublisher;
import tools.jackson.databind.JsonNode;

class RegistrationTest extends ControlPlaneTestBase {

    @Autowired
    ApplicationEventPublisher events;

    private Response register(String bootstrap, HostTopology topology) {
        return call("POST", "/worker/v1/register", bootstrap, new RegisterRequest("test", "eu-1", topology));
    }

    private JsonNode hostDetail(String admin, String hostId) {
        Response r = call("GET", "/admin/api/v1/hosts/" + hostId, admin, null);
        assertThat(r.status()).isEqualTo(200);
        return r.json();
    }

    private static JsonNode partition(JsonNode host, int id) {
        for (JsonNode p : host.get("partitions")) {
            if (p.get("partitionId").asInt() == id) return p;
        }
        throw new AssertionError("no partition " + id);
    }

    @Test
    void registeredHostShowsItsTopologyWithPartitionsMappedByModuleId() {
        String admin = adminToken();
        Response r = register(bootstrapToken(), TestTopologies.hgxH100("reg-h100-a"));
        assertThat(r.status()).isEqualTo(200);
        String hostId = r.json().get("hostId").asString();
        assertThat(r.json().get("credential").asString()).startsWith("gpc_host_");

        JsonNode host = hostDetail(admin, hostId);
        assertThat(host.get("state").asString()).isEqualTo("ready");
        assertThat(host.get("platform").asString()).isEqualTo("HGX_H100_8");
        assertThat(host.get("location").asString()).isEqualTo("eu-1");
        assertThat(host.get("gpuCount").asInt()).isEqualTo(8);
        assertThat(host.get("freeGpuCount").asInt()).isEqualTo(8);
        assertThat(host.get("cpus").get("total").asInt()).isEqualTo(16);
        assertThat(host.get("numaNodes")).hasSize(2);
        assertThat(host.get("numaNodes").get(1).get("cpus").toString()).isEqualTo("[1,3,5,7,9,11,13,15]");
        assertThat(host.get("partitions")).hasSize(15);
        // Partition 3 = modules {1,3}: on this board module 1 is bus 3a and module 3 is bus 5d, not 18 and 2a.
        JsonNode pair = partition(host, 3);
        assertThat(pair.get("moduleIds").toString()).isEqualTo("[1,3]");
        assertThat(pair.get("gpuBdfs").toString()).isEqualTo("[\"0000:3a:00.0\",\"0000:5d:00.0\"]");
        assertThat(pair.get("state").asString()).isEqualTo("free");
        JsonNode gpu = host.get("pciDevices").get(0);
        assertThat(gpu.get("kind").asString()).isEqualTo("gpu");
        assertThat(gpu.get("bdf").asString()).isEqualTo("0000:18:00.0");
        assertThat(gpu.get("moduleId").asInt()).isEqualTo(2);
        assertThat(gpu.get("switchBdf").asString()).isEqualTo("0000:16:00.0");
        assertThat(gpu.get("iommuGroup").asInt()).isEqualTo(10);

        Response list = call("GET", "/admin/api/v1/hosts?state=ready", admin, null);
        assertThat(list.json().get("items").findValuesAsString("name")).contains("reg-h100-a");
    }

    @Test
    void reRegistrationIsIdempotentAndRotatesTheCredential() {
        String bootstrap = bootstrapToken();
        Response first = register(bootstrap, TestTopologies.hgxH100("reg-h100-b"));
        Response second = register(bootstrap, TestTopologies.hgxH100("reg-h100-b"));
        assertThat(second.json().get("hostId").asString()).isEqualTo(first.json().get("hostId").asString());
        UUID hostId = UUID.fromString(first.json().get("hostId").asString());
        assertThat(jdbc.sql("SELECT count(*) FROM pci_device WHERE host_id = ?").param(hostId).query(Long.class).single())
                .isEqualTo(12L);
        assertThat(jdbc.sql("SELECT count(*) FROM cpu WHERE host_id = ?").param(hostId).query(Long.class).single())
                .isEqualTo(16L);
        assertThat(jdbc.sql("SELECT count(*) FROM gpu_partition_member m JOIN gpu_partition p ON p.id = m.partition_row_id WHERE p.host_id = ?")
                .param(hostId).query(Long.class).single()).isEqualTo(8L + 8 + 8 + 8);
        // the first credential was replaced
        Response old = call("POST", "/worker/v1/hosts/" + hostId + "/heartbeat", first.json().get("credential").asString(),
                new Heartbeat(Instant.now(), "test"));
        assertThat(old.status()).isEqualTo(401);
        Response current = call("POST", "/worker/v1/hosts/" + hostId + "/heartbeat",
                second.json().get("credential").asString(), new Heartbeat(Instant.now(), "test"));
        assertThat(current.status()).isEqualTo(200);
        assertThat(current.json().get("hostState").asString()).isEqualTo("ready");
    }

    @Test
    void heartbeatsCarryTheHostsBootImagesAndABadListIsRefused() {
        Response r = register(bootstrapToken(), TestTopologies.hgxH100("reg-h100-img"));
        UUID hostId = UUID.fromString(r.json().get("hostId").asString());
        String credential = r.json().get("credential").asString();
        String path = "/worker/v1/hosts/" + hostId + "/heartbeat";
        java.util.function.Supplier<Object> images = () -> jdbc.sql("SELECT boot_images FROM host WHERE id = ?")
                .param(hostId).query((rs, n) -> rs.getArray(1) == null ? "not reported"
                        : java.util.List.of((String[]) rs.getArray(1).getArray())).single();
        assertThat(images.get()).isEqualTo("not reported");

        String b = "/var/lib/gpucloud/images/b.qcow2";
        String a = "/var/lib/gpucloud/images/a.raw";
        assertThat(call("POST", path, credential, new Heartbeat(Instant.now(), "t", java.util.List.of(b, a, b)))
                .status()).isEqualTo(200);
        assertThat(images.get()).isEqualTo(java.util.List.of(a, b)); // sorted, each once
        // a worker that does not say (older, or cannot read its directory) leaves the last report
        assertThat(call("POST", path, credential, new Heartbeat(Instant.now(), "t")).status()).isEqualTo(200);
        assertThat(images.get()).isEqualTo(java.util.List.of(a, b));
        // an empty list is a report: the host holds no image
        call("POST", path, credential, new Heartbeat(Instant.now(), "t", java.util.List.of()));
        assertThat(images.get()).isEqualTo(java.util.List.of());

        for (String bad : new String[] {"relative.qcow2", "/var/lib/gpucloud/images/../../etc/shadow", "/x\nfake",
                "/" + "a".repeat(4096)}) {
            Response refused = call("POST", path, credential,
                    new Heartbeat(Instant.now(), "t", java.util.List.of(a, bad)));
            assertProblem(refused, 400);
            assertThat(refused.json().get("field").asString()).isEqualTo("bootImages[1]");
        }
        assertThat(images.get()).as("a refused report changes nothing").isEqualTo(java.util.List.of());
    }

    @Test
    void vanishedGpuIsMarkedMissingAndItsPartitionsBecomeUnavailable() {
        String admin = adminToken();
        Response r = register(bootstrapToken(), TestTopologies.hgxH100("reg-h100-c"));
        String hostId = r.json().get("hostId").asString();
        String credential = r.json().get("credential").asString();
        // A VM holds the GPU of module 4 (bus 2a) when it falls off the bus.
        UUID project = jdbc.sql("SELECT id FROM project LIMIT 1").query(UUID.class).optional()
                .orElseGet(() -> new io.gpucloud.controlplane.tenancy.Projects(jdbc).ensureProject("t", "p"));
        UUID vm = UUID.randomUUID();
        jdbc.sql("INSERT INTO vm (id, project_id, name, instance_type, vcpus, memory_mib, gpu_count, state, host_id) VALUES (?, ?, ?, 'h100x1', 4, 1024, 1, 'running', ?)")
                .params(vm, project, "vm-" + vm, UUID.fromString(hostId)).update();
        jdbc.sql("UPDATE pci_device SET vm_id = ? WHERE host_id = ? AND bdf = '0000:2a:00.0'")
                .params(vm, UUID.fromString(hostId)).update();

        Response report = call("PUT", "/worker/v1/hosts/" + hostId + "/topology", credential,
                TestTopologies.hgxH100("reg-h100-c", Set.of(4), true));
        assertThat(report.status()).isEqualTo(200);

        JsonNode host = hostDetail(admin, hostId);
        assertThat(host.get("gpuCount").asInt()).isEqualTo(7);
        JsonNode gone = null;
        for (JsonNode d : host.get("pciDevices")) {
            if (d.get("bdf").asString().equals("0000:2a:00.0")) gone = d;
        }
        assertThat(gone).as("a GPU held by a VM is never deleted").isNotNull();
        assertThat(gone.get("health").asString()).isEqualTo("missing");
        assertThat(gone.get("vmId").asString()).isEqualTo(vm.toString());
        for (int id : List.of(0, 1, 4, 10)) { // 8-GPU, {1-4}, {2,4}, {4}
            assertThat(partition(host, id).get("state").asString()).as("partition " + id).isEqualTo("unavailable");
        }
        assertThat(partition(host, 2).get("state").asString()).isEqualTo("free");
        assertThat(partition(host, 3).get("state").asString()).isEqualTo("free");

        // The GPU comes back: healthy again, partitions available again.
        call("PUT", "/worker/v1/hosts/" + hostId + "/topology", credential, TestTopologies.hgxH100("reg-h100-c"));
        host = hostDetail(admin, hostId);
        assertThat(host.get("gpuCount").asInt()).isEqualTo(8);
        assertThat(partition(host, 1).get("state").asString()).as("still blocked by the VM's GPU").isEqualTo("blocked");
        assertThat(partition(host, 2).get("state").asString()).isEqualTo("free");

        // the hand-made hold above bypassed the claim path; undo it so the shared database stays consistent
        jdbc.sql("UPDATE pci_device SET vm_id = NULL WHERE vm_id = ?").param(vm).update();
        jdbc.sql("UPDATE vm SET state = 'deleted', host_id = NULL WHERE id = ?").param(vm).update();
    }

    @Test
    void moduleIdsLearnedEarlierSurviveAReportFromGpusOnVfio() {
        String admin = adminToken();
        Response r = register(bootstrapToken(), TestTopologies.hgxH100("reg-h100-d"));
        String hostId = r.json().get("hostId").asString();
        String credential = r.json().get("credential").asString();

        Response report = call("PUT", "/worker/v1/hosts/" + hostId + "/topology", credential,
                TestTopologies.hgxH100("reg-h100-d", Set.of(), false));
        assertThat(report.status()).isEqualTo(200);
        assertThat(report.json().get("knownModuleIds").get("0000:3a:00.0").asInt()).isEqualTo(1);

        JsonNode host = hostDetail(admin, hostId);
        assertThat(host.get("pciDevices").get(0).get("moduleId").asInt()).isEqualTo(2);
        assertThat(partition(host, 3).get("gpuBdfs").toString()).isEqualTo("[\"0000:3a:00.0\",\"0000:5d:00.0\"]");
    }

    @Test
    void silentHostBecomesUnreachableAndReturnsToItsStateOnHeartbeat() {
        HostRegistry registry = new HostRegistry(jdbc, null, new InventoryProperties(
                java.time.Duration.ofSeconds(30), java.time.Duration.ofSeconds(5), java.time.Duration.ofSeconds(1)),
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry(), events);
        Response ready = register(bootstrapToken(), TestTopologies.hgxH100("reg-h100-e"));
        Response draining = register(bootstrapToken(), TestTopologies.hgxH100("reg-h100-f"));
        UUID readyId = UUID.fromString(ready.json().get("hostId").asString());
        UUID drainingId = UUID.fromString(draining.json().get("hostId").asString());
        jdbc.sql("UPDATE host SET state = 'draining' WHERE id = ?").param(drainingId).update();
        jdbc.sql("UPDATE host SET last_heartbeat_at = now() - interval '31 seconds' WHERE id IN (?, ?)")
                .params(readyId, drainingId).update();

        assertThat(registry.markSilentHostsUnreachable()).contains("reg-h100-e", "reg-h100-f");
        assertThat(state(readyId)).isEqualTo("unreachable");
        assertThat(state(drainingId)).isEqualTo("unreachable");
        assertThat(registry.markSilentHostsUnreachable()).doesNotContain("reg-h100-e");

        Response beat = call("POST", "/worker/v1/hosts/" + readyId + "/heartbeat", ready.json().get("credential").asString(),
                new Heartbeat(Instant.now(), "test"));
        assertThat(beat.json().get("hostState").asString()).isEqualTo("ready");
        call("POST", "/worker/v1/hosts/" + drainingId + "/heartbeat", draining.json().get("credential").asString(),
                new Heartbeat(Instant.now(), "test"));
        assertThat(state(drainingId)).as("a draining host keeps draining").isEqualTo("draining");
    }

    @Test
    void hostWithIommuOffStaysOnboardingWithAReason() {
        HostTopology t = TestTopologies.hgxH100("reg-no-iommu");
        HostTopology noIommu = new HostTopology(t.hostName(), t.platform(), t.gpuModel(), t.fabricMode(),
                t.fabricSource(), false, t.numaNodes(), t.cpus(), t.pciDevices(), t.partitions(), t.problems());
        Response r = register(bootstrapToken(), noIommu);
        UUID id = UUID.fromString(r.json().get("hostId").asString());
        assertThat(state(id)).isEqualTo("onboarding");
        assertThat(jdbc.sql("SELECT state_reason FROM host WHERE id = ?").param(id).query(String.class).single())
                .contains("IOMMU");
    }

    @Test
    void heartbeatOfAHostThatIsNotUnreachableRecordsItAndKeepsItsState() {
        Response r = register(bootstrapToken(), TestTopologies.hgxH100("reg-h100-g"));
        UUID hostId = UUID.fromString(r.json().get("hostId").asString());
        String credential = r.json().get("credential").asString();
        jdbc.sql("UPDATE host SET state = 'draining', last_heartbeat_at = now() - interval '20 seconds' WHERE id = ?")
                .param(hostId).update();
        Response beat = call("POST", "/worker/v1/hosts/" + hostId + "/heartbeat", credential,
                new Heartbeat(Instant.now(), "test-2"));
        assertThat(beat.status()).isEqualTo(200);
        assertThat(beat.json().get("hostState").asString()).isEqualTo("draining");
        assertThat(jdbc.sql("SELECT now() - last_heartbeat_at < interval '5 seconds' AND worker_version = 'test-2' FROM host WHERE id = ?")
                .param(hostId).query(Boolean.class).single()).isTrue();
        // heard 20 s ago and now again: not silent for the 30 s timeout
        jdbc.sql("UPDATE host SET last_heartbeat_at = now() - interval '29 seconds' WHERE id = ?").param(hostId).update();
        HostRegistry registry = new HostRegistry(jdbc, null, new InventoryProperties(
                java.time.Duration.ofSeconds(30), java.time.Duration.ofSeconds(5), java.time.Duration.ofSeconds(1)),
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry(), events);
        assertThat(registry.markSilentHostsUnreachable()).doesNotContain("reg-h100-g");
        assertThat(state(hostId)).isEqualTo("draining");
        jdbc.sql("UPDATE host SET last_heartbeat_at = now() - interval '31 seconds' WHERE id = ?").param(hostId).update();
        assertThat(registry.markSilentHostsUnreachable()).contains("reg-h100-g");
        assertThat(call("POST", "/worker/v1/hosts/" + hostId + "/heartbeat", credential,
                new Heartbeat(Instant.now(), "test-2")).json().get("hostState").asString()).isEqualTo("draining");
    }

    private String state(UUID hostId) {
        return jdbc.sql("SELECT state FROM host WHERE id = ?").param(hostId).query(String.class).single();
    }
}
