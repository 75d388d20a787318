package io.gpucloud.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** One project's VMs and keys do not exist for another project: every endpoint answers 404. */
class TenantIsolationTest extends CustomerApiTestBase {

    @Test
    void anotherProjectsVmsAndKeysAreNotFoundOnEveryEndpoint() {
        String alice = projectToken("iso-alice-corp", "research");
        String bob = projectToken("iso-bob-corp", "research");
        String aliceKey = call("POST", "/api/v1/ssh-keys", alice, Map.of("name", "shared-name",
                "publicKey", ed25519Key("alice"))).json().get("id").asString();
        // no host in this location: the VM waits in pending, which is enough to be addressed
        String body = json.writeValueAsString(Map.of("name", "same-name", "instanceType", "h100x1",
                "location", "iso-nowhere"));
        var created = send("POST", "/api/v1/vms", alice, body, false, "Idempotency-Key", "iso-key-1");
        assertThat(created.status()).isEqualTo(201);
        String aliceVm = created.json().get("id").asString();

        for (String[] request : new String[][] {
                {"GET", "/api/v1/vms/" + aliceVm}, {"POST", "/api/v1/vms/" + aliceVm + "/start"},
                {"POST", "/api/v1/vms/" + aliceVm + "/stop"}, {"POST", "/api/v1/vms/" + aliceVm + "/reboot"},
                {"DELETE", "/api/v1/vms/" + aliceVm}, {"GET", "/api/v1/ssh-keys/" + aliceKey},
                {"DELETE", "/api/v1/ssh-keys/" + aliceKey}}) {
            Response r = call(request[0], request[1], bob, null);
            assertFieldlessNotFound(r, request);
        }
        assertThat(call("GET", "/api/v1/vms", bob, null).json().get("items")).isEmpty();
        assertThat(call("GET", "/api/v1/vms?name=same-name", bob, null).json().get("items")).isEmpty();
        assertThat(call("GET", "/api/v1/vms?state=pending&limit=100", bob, null).body()).doesNotContain(aliceVm);
        assertThat(call("GET", "/api/v1/ssh-keys", bob, null).json().get("items")).isEmpty();

        // another project's key id cannot be borrowed
        var borrowed = call("POST", "/api/v1/vms", bob, Map.of("name", "borrow", "instanceType", "h100x1",
                "location", "iso-nowhere", "sshKeyIds", List.of(aliceKey)));
        assertFieldProblem(borrowed, 400, "sshKeyIds[0]");
        // names and idempotency keys are per project: the same ones give Bob his own VM and key
        var bobs = send("POST", "/api/v1/vms", bob, body, false, "Idempotency-Key", "iso-key-1");
        assertThat(bobs.status()).isEqualTo(201);
        assertThat(bobs.json().get("id").asString()).isNotEqualTo(aliceVm);
        assertThat(call("POST", "/api/v1/ssh-keys", bob, Map.of("name", "shared-name",
                "publicKey", ed25519Key("bob"))).status()).isEqualTo(201);

        // Alice's resources are untouched by all of the above
        assertThat(call("GET", "/api/v1/vms/" + aliceVm, alice, null).json().get("state").asString())
                .isEqualTo("pending");
        assertThat(call("GET", "/api/v1/ssh-keys/" + aliceKey, alice, null).status()).isEqualTo(200);
        assertThat(call("GET", "/api/v1/vms", alice, null).json().get("items")).hasSize(1);

        for (String token : List.of(alice, bob)) {
            for (var vm : call("GET", "/api/v1/vms", token, null).json().get("items")) {
                String id = vm.get("id").asString();
                assertThat(call("DELETE", "/api/v1/vms/" + id, token, null).status()).isEqualTo(202);
                awaitState(token, id, "deleted");
            }
        }
    }

    private static void assertFieldlessNotFound(Response r, String[] request) {
        assertThat(r.status()).as(String.join(" ", request) + " " + r.body()).isEqualTo(404);
        assertProblem(r, 404);
        assertThat(r.json().get("type").asString()).endsWith("/not-found");
    }
}
