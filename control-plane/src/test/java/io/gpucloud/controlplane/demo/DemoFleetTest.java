package io.gpucloud.controlplane.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.console.DemoFleetContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * The start contract: in the demo profile four simulated HGX servers register through the real
 * worker code and show up with real-looking topology, partitions mapped by module id.
 */
@DemoFleetContext
class DemoFleetTest extends ControlPlaneTestBase {

    private static final String ADMIN = "gpc_admin_demo_test";

    private JsonNode readyHosts() throws InterruptedException {
        JsonNode items = null;
        for (int i = 0; i < 150; i++) {
            Response r = call("GET", "/admin/api/v1/hosts?state=ready", ADMIN, null);
            assertThat(r.status()).isEqualTo(200);
            items = r.json().get("items");
            if (items.size() == 4) {
                return items;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("demo hosts did not become ready: " + items);
    }

    @Test
    void fourSimulatedHostsRegisterWithTheirBoards() throws Exception {
        JsonNode items = readyHosts();
        Map<String, String> platforms = new TreeMap<>();
        for (JsonNode h : items) {
            platforms.put(h.get("name").asString(), h.get("platform").asString());
            assertThat(h.get("gpuCount").asInt()).as(h.get("name").asString()).isEqualTo(8);
            assertThat(h.get("freeGpuCount").asInt()).isEqualTo(8);
            assertThat(h.get("fabricMode").asString()).isEqualTo("SHARED_NVSWITCH");
            assertThat(h.get("lastHeartbeatAt").isNull()).isFalse();
        }
        assertThat(platforms).containsExactlyEntriesOf(new TreeMap<>(Map.of(
                "demo-b200-1", "HGX_B200_8", "demo-h100-1", "HGX_H100_8",
                "demo-h100-2", "HGX_H100_8", "demo-h200-1", "HGX_H200_8")));

        for (JsonNode h : items) {
            JsonNode detail = call("GET", "/admin/api/v1/hosts/" + h.get("id").asString(), ADMIN, null).json();
            String name = detail.get("name").asString();
            assertThat(detail.get("numaNodes")).hasSize(2);
            assertThat(detail.get("cpus").get("total").asInt()).isEqualTo(224);
            List<String> pairs = new ArrayList<>();
            List<Integer> ids = new ArrayList<>();
            for (JsonNode p : detail.get("partitions")) {
                ids.add(p.get("partitionId").asInt());
                assertThat(p.get("state").asString()).isEqualTo("free");
                assertThat(p.get("gpuBdfs")).as("partition mapped to devices by module id").hasSize(p.get("gpuCount").asInt());
                if (p.get("gpuCount").asInt() == 2) {
                    pairs.add(p.get("moduleIds").toString());
                }
            }
            ids.sort(Integer::compare);
            if (name.contains("b200")) {
                assertThat(ids).as(name).containsExactly(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
                assertThat(pairs).containsExactlyInAnyOrder("[1,2]", "[3,4]", "[5,6]", "[7,8]");
            } else {
                assertThat(ids).as(name).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
                assertThat(pairs).containsExactlyInAnyOrder("[1,3]", "[2,4]", "[5,7]", "[6,8]");
            }
            // module ids come from the (simulated) hardware, not from bus order
            List<Integer> modulesInBusOrder = new ArrayList<>();
            for (JsonNode d : detail.get("pciDevices")) {
                if (d.get("kind").asString().equals("gpu")) {
                    modulesInBusOrder.add(d.get("moduleId").asInt());
                }
            }
            assertThat(modulesInBusOrder).hasSize(8).doesNotHaveDuplicates().isNotEqualTo(List.of(1, 2, 3, 4, 5, 6, 7, 8));
        }
    }

    @org.springframework.beans.factory.annotation.Autowired
    DemoFleet fleet;
    @org.springframework.beans.factory.annotation.Autowired
    io.gpucloud.controlplane.placement.PlacementAudit audit;

    private JsonNode awaitVmState(String id, String state) throws InterruptedException {
        JsonNode vm = null;
        for (int i = 0; i < 300; i++) {
            vm = call("GET", "/admin/api/v1/vms/" + id, ADMIN, null).json();
            if (vm.get("state").asString().equals(state)) {
                return vm;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("VM never became " + state + ": " + vm);
    }

    /**
     * The real worker code against a simulated HGX H200: the VM's GPUs end on vfio-pci, its fabric
     * partition active, its domain running; deleting it puts every GPU back on nvidia and
     * deactivates the partition before the database frees anything.
     */
    @Test
    void aVmRunsOnASimulatedHostThroughTheRealWorkerCode() throws Exception {
        readyHosts();
        Response created = call("POST", "/admin/api/v1/vms", ADMIN, Map.of("name", "demo-e2e", "gpuModel",
                "H200-SXM-141GB", "gpuCount", 4, "vcpus", 32, "memoryMiB", 262144));
        assertThat(created.status()).as(created.body()).isEqualTo(202);
        String id = created.json().get("id").asString();
        JsonNode vm = awaitVmState(id, "running");
        var host = fleet.hosts().stream().filter(h -> h.spec().hostName().equals("demo-h200-1")).findFirst()
                .orElseThrow();
        List<String> gpus = new ArrayList<>();
        vm.get("gpuBdfs").forEach(b -> gpus.add(b.asString()));
        assertThat(gpus).hasSize(4);
        for (String bdf : gpus) {
            assertThat(host.driver(bdf)).as(bdf).contains("vfio-pci");
        }
        int partition = vm.get("partitionId").asInt();
        assertThat(host.fmpm().activePartitions()).containsExactly(partition);
        List<String> steps = new ArrayList<>();
        vm.get("jobs").forEach(j -> steps.add(j.get("kind").asString() + ":" + j.get("state").asString()));
        assertThat(steps).as("the create steps travel as one sequence").containsExactly("SEQUENCE:succeeded");
        JsonNode create = vm.get("jobs").get(0).get("result");
        List<String> subKinds = new ArrayList<>();
        create.get("steps").forEach(st -> {
            String kind = st.get("name").asString().replaceFirst(":.*", "");
            if (subKinds.isEmpty() || !subKinds.get(subKinds.size() - 1).equals(kind)) {
                subKinds.add(kind);
            }
        });
        assertThat(subKinds).as("every sub-job's steps, in order").containsExactly("RESET_GPUS", "ACTIVATE_PARTITION",
                "BIND_VFIO", "DEFINE_DOMAIN", "START_DOMAIN");
        assertThat(create.get("steps").toString()).contains("driver_override");
        assertThat(create.get("facts").get("completedKinds").asString())
                .isEqualTo("RESET_GPUS,ACTIVATE_PARTITION,BIND_VFIO,DEFINE_DOMAIN,START_DOMAIN");
        // a cloud-init seed with its name and private address (an admin-made VM boots no image: no disk)
        assertThat(create.get("facts").has("bootDisk")).isFalse();
        java.nio.file.Path seed = java.nio.file.Path.of(create.get("facts").get("cloudInitSeed").asString());
        assertThat(seed).hasFileName(id + ".cidata.iso");
        java.nio.file.Path seedFiles = seed.resolveSibling(seed.getFileName() + ".d");
        assertThat(java.nio.file.Files.readString(seedFiles.resolve("meta-data"))).contains("\"demo-e2e\"");
        String address = call("GET", "/admin/api/v1/vms/" + id, ADMIN, null).json().get("privateIpv4").asString();
        assertThat(java.nio.file.Files.readString(seedFiles.resolve("network-config"))).contains(address + "/16");

        assertThat(call("DELETE", "/admin/api/v1/vms/" + id, ADMIN, null).status()).isEqualTo(202);
        awaitVmState(id, "deleted");
        for (String bdf : gpus) {
            assertThat(host.driver(bdf)).as(bdf).contains("nvidia");
        }
        assertThat(host.fmpm().activePartitions()).isEmpty();
        assertThat(seedFiles).as("the seed goes with the domain").doesNotExist();
        assertThat(audit.violations()).isEmpty();
        assertThat(jdbc.sql("SELECT count(*) FROM pci_device WHERE vm_id = ?::uuid").param(id).query(Long.class)
                .single()).isZero();
    }

    /**
     * What a customer gives reaches the guest: through the customer API, a VM with an SSH key and user
     * data boots its own disk on the catalog's image and reads the key and user data from its seed, as
     * the real worker code writes them; deleting the VM removes both.
     */
    @Test
    void aCustomersKeyAndUserDataReachTheSeedAndTheVmBootsItsOwnDisk() throws Exception {
        readyHosts();
        String project = "gpc_project_demo_test";
        String key = ed25519Key("ana@laptop");
        Response created = call("POST", "/api/v1/vms", project, Map.of("name", "seeded-e2e", "instanceType", "h100x1",
                "sshPublicKeys", List.of(key), "userData", "#cloud-config\npackages: [htop]\n"));
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        String id = created.json().get("id").asString();
        awaitVmState(id, "running");

        JsonNode facts = call("GET", "/admin/api/v1/vms/" + id, ADMIN, null).json().get("jobs").get(0).get("result")
                .get("facts");
        java.nio.file.Path disk = java.nio.file.Path.of(facts.get("bootDisk").asString());
        java.nio.file.Path seed = java.nio.file.Path.of(facts.get("cloudInitSeed").asString());
        java.nio.file.Path seedFiles = seed.resolveSibling(seed.getFileName() + ".d");
        assertThat(disk).exists().hasFileName(id + ".qcow2");
        assertThat(java.nio.file.Files.readString(seedFiles.resolve("meta-data"))).contains(key)
                .contains("\"seeded-e2e\"");
        assertThat(java.nio.file.Files.readString(seedFiles.resolve("user-data")))
                .isEqualTo("#cloud-config\npackages: [htop]\n");
        assertThat(java.nio.file.Files.readString(seedFiles.resolve("vendor-data"))).contains("/etc/nccl/topo.xml");

        assertThat(call("DELETE", "/api/v1/vms/" + id, project, null).status()).isEqualTo(202);
        awaitVmState(id, "deleted");
        assertThat(disk).doesNotExist();
        assertThat(seedFiles).doesNotExist();
        assertThat(audit.violations()).isEmpty();
    }

    @Test
    void demoTokensFromTheEnvironmentWork() {
        assertThat(call("GET", "/admin/api/v1/hosts", ADMIN, null).status()).isEqualTo(200);
        assertThat(call("GET", "/admin/api/v1/hosts", "gpc_project_demo_test", null).status()).isEqualTo(403);
    }
}
