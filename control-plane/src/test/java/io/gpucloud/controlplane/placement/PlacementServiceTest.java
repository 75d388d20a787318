package io.gpucloud.controlplane.placement;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.benchmark.SyntheticFleet;
import io.gpucloud.controlplane.tenancy.Projects;
import io.gpucloud.placement.NumaPolicy;
import io.gpucloud.placement.Placement;
import io.gpucloud.placement.PlacementRequest;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.transaction.support.TransactionTemplate;
import tools.jackson.databind.JsonNode;

/** Placement end to end on the real schema: what a claim holds, what it blocks, what release returns. */
class PlacementServiceTest extends ControlPlaneTestBase {

    private static final String H100 = "H100-SXM5-80GB";

    @Autowired
    PlacementService placement;
    @Autowired
    PlacementAudit audit;
    @Autowired
    Projects projects;
    @Autowired
    TransactionTemplate tx;

    private UUID newVm(UUID project, int gpus, int vcpus, long memoryMiB) {
        UUID vm = UUID.randomUUID();
        jdbc.sql("INSERT INTO vm (id, project_id, name, instance_type, gpu_model, gpu_count, vcpus, memory_mib) VALUES (?, ?, ?, 't', ?, ?, ?, ?)")
                .params(vm, project, "vm-" + vm, gpus == 0 ? null : H100, gpus, vcpus, memoryMiB).update();
        return vm;
    }

    private static PlacementRequest request(UUID vm, int gpus, int vcpus, long memoryMiB, String location) {
        return new PlacementRequest(vm, gpus == 0 ? null : H100, gpus, vcpus, memoryMiB, location, Set.of(),
                NumaPolicy.REQUIRED, false, null);
    }

    private JsonNode partitionsOf(String admin, UUID hostId) {
        return call("GET", "/admin/api/v1/hosts/" + hostId, admin, null).json().get("partitions");
    }

    private static String stateOf(JsonNode partitions, int id) {
        for (JsonNode p : partitions) {
            if (p.get("partitionId").asInt() == id) return p.get("state").asString();
        }
        throw new AssertionError("no partition " + id);
    }

    @Test
    void aPlacementHoldsOnePartitionWithNumaLocalCpusAndReleaseGivesEverythingBack() {
        new SyntheticFleet(jdbc, tx).create("svc", "svc-1", 1, List.of(H100));
        UUID host = jdbc.sql("SELECT id FROM host WHERE location = 'svc-1'").query(UUID.class).single();
        UUID project = projects.ensureProject("svc", "svc");
        String admin = adminToken();

        UUID vm = newVm(project, 2, 16, 128 * 1024);
        var outcome = placement.place(request(vm, 2, 16, 128 * 1024, "svc-1"));
        assertThat(outcome.placement()).isPresent();
        Placement p = outcome.placement().get();
        assertThat(p.gpuDeviceIds()).hasSize(2);
        assertThat(p.cpuIds()).hasSize(16);

        // The GPUs, CPUs and hugepages all sit on one NUMA node.
        List<Integer> gpuNodes = jdbc.sql("SELECT DISTINCT numa_node FROM pci_device WHERE vm_id = ?").param(vm)
                .query(Integer.class).list();
        List<Integer> cpuNodes = jdbc.sql("SELECT DISTINCT c.node_id FROM vm_cpu h JOIN cpu c ON c.host_id = h.host_id AND c.cpu_id = h.cpu_id WHERE h.vm_id = ?").param(vm)
                .query(Integer.class).list();
        assertThat(gpuNodes).hasSize(1);
        assertThat(cpuNodes).isEqualTo(gpuNodes);
        assertThat(p.hugepagesByNode()).isEqualTo(Map.of(gpuNodes.get(0), 128));

        // Its partition is allocated; the 8- and 4-GPU partitions containing it are blocked.
        JsonNode partitions = partitionsOf(admin, host);
        long allocated = 0;
        for (JsonNode part : partitions) {
            if (part.get("state").asString().equals("allocated")) {
                allocated++;
                assertThat(part.get("gpuCount").asInt()).isEqualTo(2);
                assertThat(part.get("vmId").asString()).isEqualTo(vm.toString());
            }
        }
        assertThat(allocated).isEqualTo(1);
        assertThat(stateOf(partitions, 0)).isEqualTo("blocked");
        assertThat(audit.violations()).isEmpty();

        // No 8-GPU VM fits now, and the answer says why.
        UUID big = newVm(project, 8, 32, 64 * 1024);
        var refused = placement.place(request(big, 8, 32, 64 * 1024, "svc-1"));
        assertThat(refused.placement()).isEmpty();
        assertThat(refused.explanation()).contains("1 hosts").contains("lack 8 free GPUs");

        placement.release(vm);
        placement.release(vm); // idempotent
        assertThat(audit.violations()).isEmpty();
        partitions = partitionsOf(admin, host);
        for (JsonNode part : partitions) {
            assertThat(part.get("state").asString()).isEqualTo("free");
        }
        assertThat(placement.place(request(big, 8, 32, 64 * 1024, "svc-1")).placement()).isPresent();
        placement.release(big);
    }

    /**
     * Inside a workflow label the claim is a savepoint: a lost claim (here: the VM is already
     * placed, which the SQL function only finds out after claiming the GPUs) rolls back just the
     * claim, and the label's own transaction still commits.
     */
    @Test
    void aLostClaimInsideAnOuterTransactionLeavesThatTransactionUsable() {
        new SyntheticFleet(jdbc, tx).create("nest", "nest-1", 1, List.of(H100));
        UUID project = projects.ensureProject("nest", "nest");
        UUID vm = newVm(project, 1, 4, 8192);
        assertThat(placement.place(request(vm, 1, 4, 8192, "nest-1")).placement()).isPresent();

        tx.executeWithoutResult(status -> {
            var again = placement.place(request(vm, 1, 4, 8192, "nest-1"));
            assertThat(again.placement()).isEmpty();
            assertThat(again.conflicts()).isPositive();
            jdbc.sql("INSERT INTO audit_event (actor, action, result) VALUES ('test', 'after-lost-claim', 'ok')").update();
        });
        assertThat(jdbc.sql("SELECT count(*) FROM audit_event WHERE action = 'after-lost-claim'").query(Long.class)
                .single()).isEqualTo(1);
        assertThat(jdbc.sql("SELECT count(*) FROM pci_device WHERE vm_id = ?").param(vm).query(Long.class).single())
                .as("only the first claim's GPU").isEqualTo(1);
        assertThat(audit.violations()).isEmpty();
        placement.release(vm);
    }

    @Test
    void previewExplainsAndValidates() {
        String admin = adminToken();
        Response none = call("POST", "/admin/api/v1/placement/preview", admin,
                Map.of("gpuModel", "B300-SXM", "gpuCount", 8, "vcpus", 64, "memoryMiB", 65536));
        assertThat(none.status()).isEqualTo(200);
        assertThat(none.json().get("placeable").asBoolean()).isFalse();
        assertThat(none.json().get("explanation").asString()).startsWith("0 hosts B300-SXM known");

        new SyntheticFleet(jdbc, tx).create("prev", "prev-1", 2, List.of(H100));
        Response some = call("POST", "/admin/api/v1/placement/preview", admin,
                Map.of("gpuModel", H100, "gpuCount", 4, "vcpus", 32, "memoryMiB", 65536, "location", "prev-1"));
        assertThat(some.json().get("placeable").asBoolean()).isTrue();
        assertThat(some.json().get("candidates")).hasSize(2);
        assertThat(some.json().get("candidates").get(0).get("gpuDeviceIds")).hasSize(4);

        Response bad = call("POST", "/admin/api/v1/placement/preview", admin,
                Map.of("gpuModel", H100, "gpuCount", 3, "vcpus", 8, "memoryMiB", 65536));
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.json().get("field").asString()).isEqualTo("gpuCount");
        assertThat(call("POST", "/admin/api/v1/placement/preview", admin,
                Map.of("gpuCount", 0, "vcpus", 8, "memoryMiB", 65536, "numaPolicy", "sometimes")).status()).isEqualTo(400);
    }
}
