package io.gpucloud.controlplane.inventory;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.placement.PlacementService;
import io.gpucloud.controlplane.tenancy.Projects;
import io.gpucloud.placement.NumaPolicy;
import io.gpucloud.placement.PlacementRequest;
import io.gpucloud.protocol.Heartbeat;
import io.gpucloud.protocol.RegisterRequest;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

class HostLifecycleTest extends ControlPlaneTestBase {

    @Autowired
    HostRegistry registry;
    @Autowired
    Projects projects;
    @Autowired
    PlacementService placement;

    /** A running 1-GPU VM placed on the only host of this location by the real claim. */
    private UUID runningVmIn(String location, String name) {
        UUID vm = UUID.randomUUID();
        jdbc.sql("INSERT INTO vm (id, project_id, name, instance_type, gpu_model, gpu_count, vcpus, memory_mib, state) "
                        + "VALUES (?, ?, ?, 't', 'H100-SXM5-80GB', 1, 2, 1024, 'running')")
                .params(vm, projects.ensureProject("life", "life"), name).update();
        var outcome = placement.place(new PlacementRequest(vm, "H100-SXM5-80GB", 1, 2, 1024, location, Set.of(),
                NumaPolicy.PREFERRED, false, null));
        assertThat(outcome.placement()).as(outcome.explanation()).isPresent();
        return vm;
    }

    private void delete(UUID vm) {
        placement.release(vm);
        jdbc.sql("UPDATE vm SET state = 'deleted', deleted_at = now() WHERE id = ?").param(vm).update();
    }

    @Test
    void operatorsDrainUndrainAndPutEmptyHostsIntoMaintenance() {
        String admin = adminToken();
        Response r = call("POST", "/worker/v1/register", bootstrapToken(),
                new RegisterRequest("t", "life-1", TestTopologies.hgxH100("life-h100-a")));
        String host = r.json().get("hostId").asString();
        UUID vm = runningVmIn("life-1", "life-vm");

        assertThat(call("POST", "/admin/api/v1/hosts/" + host + "/undrain", admin, null).status()).isEqualTo(409);
        Response drained = call("POST", "/admin/api/v1/hosts/" + host + "/drain", admin, Map.of("reason", "NIC swap"));
        assertThat(drained.status()).isEqualTo(200);
        assertThat(drained.json().get("state").asString()).isEqualTo("draining");
        assertThat(drained.json().get("stateReason").asString()).isEqualTo("NIC swap");
        Response preview = call("POST", "/admin/api/v1/placement/preview", admin, Map.of("gpuModel",
                "H100-SXM5-80GB", "gpuCount", 1, "vcpus", 2, "memoryMiB", 4096, "location", "life-1"));
        assertThat(preview.json().get("placeable").asBoolean()).as("a draining host takes no new VMs").isFalse();
        assertThat(preview.json().get("explanation").asString()).contains("1 hosts").contains("0 ready");

        Response busy = call("POST", "/admin/api/v1/hosts/" + host + "/maintenance", admin, null);
        assertThat(busy.status()).isEqualTo(409);
        assertThat(busy.json().get("detail").asString()).contains("1 VMs still live");
        delete(vm);
        assertThat(call("POST", "/admin/api/v1/hosts/" + host + "/maintenance", admin, null).json()
                .get("state").asString()).isEqualTo("maintenance");
        assertThat(call("POST", "/admin/api/v1/hosts/" + host + "/undrain", admin, null).json()
                .get("state").asString()).isEqualTo("ready");
        assertThat(call("POST", "/admin/api/v1/hosts/" + UUID.randomUUID() + "/drain", admin, null).status())
                .isEqualTo(404);

        // operators' actions are audited, refused ones too
        var audited = jdbc.sql("SELECT action || ':' || result FROM audit_event WHERE target_id = ? ORDER BY id")
                .param(host).query(String.class).list();
        assertThat(audited).contains("host.drain:succeeded", "host.undrain:rejected", "host.maintenance:rejected",
                "host.maintenance:succeeded", "host.undrain:succeeded");
    }

    @Test
    void vmsOnAnUnreachableHostAreUnknownUntilItsWorkerIsHeardAgain() {
        Response r = call("POST", "/worker/v1/register", bootstrapToken(),
                new RegisterRequest("t", "life-2", TestTopologies.hgxH100("life-h100-b")));
        UUID host = UUID.fromString(r.json().get("hostId").asString());
        UUID vm = runningVmIn("life-2", "life-vm-2");
        jdbc.sql("UPDATE host SET last_heartbeat_at = now() - interval '10 minutes' WHERE id = ?").param(host).update();
        registry.markSilentHostsUnreachable();
        assertThat(jdbc.sql("SELECT state FROM vm WHERE id = ?").param(vm).query(String.class).single())
                .isEqualTo("unknown");
        call("POST", "/worker/v1/hosts/" + host + "/heartbeat", r.json().get("credential").asString(),
                new Heartbeat(Instant.now(), "t"));
        assertThat(jdbc.sql("SELECT state FROM vm WHERE id = ?").param(vm).query(String.class).single())
                .isEqualTo("running");
        delete(vm);
    }
}
