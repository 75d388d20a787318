package io.gpucloud.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** A customer uses the whole API once, against one simulated H100 host of their own location. */
class CustomerWalkthroughTest extends CustomerApiTestBase {

    private static final String LOCATION = "walk-1";

    private int available(String token, String type) {
        JsonNode items = call("GET", "/api/v1/instance-types", token, null).json().get("items");
        JsonNode t = StreamSupport.stream(items.spliterator(), false)
                .filter(i -> i.get("name").asString().equals(type)).findFirst().orElseThrow();
        return StreamSupport.stream(t.get("availability").spliterator(), false)
                .filter(a -> a.get("location").asString().equals(LOCATION))
                .mapToInt(a -> a.get("available").asInt()).findFirst().orElse(0);
    }

    @Test
    void aCustomerCreatesListsDrivesAndDeletesVms() {
        startHost("walk-host-1", LOCATION);
        String token = projectToken("walkers", "ml");

        // the catalog: every family and size, as data, with availability from the inventory
        var catalog = call("GET", "/api/v1/instance-types", token, null);
        assertThat(catalog.status()).isEqualTo(200);
        List<String> names = new ArrayList<>();
        catalog.json().get("items").forEach(i -> names.add(i.get("name").asString()));
        assertThat(names).contains("h100x1", "h100x2", "h100x4", "h100x8", "h200x1", "h200x8", "b200x1", "b200x8",
                "cpu4", "cpu32");
        JsonNode h100x2 = catalog.json().get("items").get(names.indexOf("h100x2"));
        assertThat(h100x2.get("gpuModel").asString()).isEqualTo("H100-SXM5-80GB");
        assertThat(h100x2.get("numaPolicy").asString()).isEqualTo("required");
        assertThat(h100x2.get("currency").asString()).isEqualTo("USD");
        assertThat(available(token, "h100x8")).isEqualTo(1);
        int twoGpuBefore = available(token, "h100x2");
        assertThat(twoGpuBefore).isEqualTo(4);
        assertThat(available(token, "h200x1")).as("no H200 host in this location").isZero();

        // an SSH key, referenced by id below
        var key = call("POST", "/api/v1/ssh-keys", token, Map.of("name", "laptop",
                "publicKey", ed25519Key("me@laptop")));
        assertThat(key.status()).isEqualTo(201);
        assertThat(key.json().get("fingerprint").asString()).startsWith("SHA256:").hasSize(7 + 43);
        String keyId = key.json().get("id").asString();
        assertThat(call("GET", "/api/v1/ssh-keys", token, null).json().get("items")).hasSize(1);

        // create with an idempotency key; the retry returns the same VM, a different body is refused
        String body = json.writeValueAsString(Map.of("name", "train-1", "instanceType", "h100x2",
                "location", LOCATION, "sshKeyIds", List.of(keyId), "expectedDurationSeconds", 3600));
        var created = send("POST", "/api/v1/vms", token, body, false, "Idempotency-Key", "walk-create-1");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        String id = created.json().get("id").asString();
        var replay = send("POST", "/api/v1/vms", token, body, false, "Idempotency-Key", "walk-create-1");
        assertThat(replay.status()).isEqualTo(200);
        assertThat(replay.json().get("id").asString()).isEqualTo(id);
        var reused = send("POST", "/api/v1/vms", token, body.replace("train-1", "train-9"), false,
                "Idempotency-Key", "walk-create-1");
        assertFieldlessConflict(reused);
        String second = call("POST", "/api/v1/vms", token, Map.of("name", "infer-1", "instanceType", "h100x1",
                "location", LOCATION)).json().get("id").asString();

        // get: the host-free view of the placement
        JsonNode running = awaitState(token, id, "running");
        awaitState(token, second, "running");
        assertThat(running.get("gpuModel").asString()).isEqualTo("H100-SXM5-80GB");
        assertThat(running.get("gpuCount").asInt()).isEqualTo(2);
        assertThat(running.get("nvlinkPartitionSize").asInt()).isEqualTo(2);
        assertThat(running.get("numaNodeCount").asInt()).isEqualTo(1);
        assertThat(running.get("sshPublicKeys").get(0).asString()).endsWith("me@laptop");
        assertThat(running.get("createdAt").asString()).isNotBlank();
        String text = call("GET", "/api/v1/vms/" + id, token, null).body();
        assertThat(text).doesNotContain("walk-host-1").doesNotContain("hostId").doesNotContain("0000:");
        assertThat(available(token, "h100x2")).isLessThan(twoGpuBefore);

        // list: two pages of one, then filters
        var page1 = call("GET", "/api/v1/vms?limit=1", token, null).json();
        assertThat(page1.get("items")).hasSize(1);
        assertThat(page1.get("items").get(0).get("id").asString()).as("newest first").isEqualTo(second);
        var page2 = call("GET", "/api/v1/vms?limit=1&cursor=" + page1.get("nextCursor").asString(), token, null)
                .json();
        assertThat(page2.get("items").get(0).get("id").asString()).isEqualTo(id);
        assertThat(page2.get("nextCursor").isNull()).isTrue();
        assertThat(call("GET", "/api/v1/vms?name=train-1&state=running", token, null).json().get("items"))
                .hasSize(1);
        assertThat(call("GET", "/api/v1/vms?state=stopped", token, null).json().get("items")).isEmpty();

        // stop, start, delete
        assertThat(call("POST", "/api/v1/vms/" + id + "/stop", token, null).status()).isEqualTo(202);
        awaitState(token, id, "stopped");
        assertProblem(call("POST", "/api/v1/vms/" + id + "/stop", token, null), 409);
        assertThat(call("POST", "/api/v1/vms/" + id + "/start", token, null).status()).isEqualTo(202);
        awaitState(token, id, "running");
        assertThat(call("POST", "/api/v1/vms/" + id + "/reboot", token, null).status()).isEqualTo(202);
        awaitState(token, id, "running");
        assertThat(call("DELETE", "/api/v1/vms/" + id, token, null).status()).isEqualTo(202);
        assertThat(call("DELETE", "/api/v1/vms/" + second, token, null).status()).isEqualTo(202);
        awaitState(token, id, "deleted");
        awaitState(token, second, "deleted");
        assertThat(call("GET", "/api/v1/vms", token, null).json().get("items")).isEmpty();
        assertThat(call("GET", "/api/v1/vms?state=deleted", token, null).json().get("items")).hasSize(2);
        assertThat(available(token, "h100x2")).isEqualTo(twoGpuBefore);

        assertThat(call("DELETE", "/api/v1/ssh-keys/" + keyId, token, null).status()).isEqualTo(204);
        assertProblem(call("DELETE", "/api/v1/ssh-keys/" + keyId, token, null), 404);

        // every mutating call left an audit event, refusals included
        List<String> actions = jdbc.sql("""
                SELECT action || ':' || result FROM audit_event
                 WHERE project_id = (SELECT project_id FROM vm WHERE id = ?::uuid) ORDER BY id
                """).param(id).query(String.class).list();
        assertThat(actions).containsSubsequence("ssh-key.create:succeeded", "vm.create:succeeded",
                "vm.create:succeeded", "vm.create:rejected", "vm.create:succeeded", "vm.stop:succeeded",
                "vm.stop:rejected", "vm.start:succeeded", "vm.reboot:succeeded", "vm.delete:succeeded",
                "vm.delete:succeeded", "ssh-key.delete:succeeded", "ssh-key.delete:rejected");
        assertThat(jdbc.sql("SELECT count(*) FROM audit_event WHERE target_id = ? AND source_ip IS NOT NULL")
                .param(id).query(Long.class).single()).isGreaterThanOrEqualTo(5);
    }

    private static void assertFieldlessConflict(Response r) {
        assertProblem(r, 409);
        assertThat(r.json().get("type").asString()).endsWith("/idempotency-key-reused");
    }
}
