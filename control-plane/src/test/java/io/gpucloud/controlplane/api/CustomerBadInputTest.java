package io.gpucloud.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Whatever a client sends, the answer is a precise 4xx problem+json, never a 5xx. */
class CustomerBadInputTest extends CustomerApiTestBase {

    private static final String[] HOSTILE_NAMES = {"Bad Name!", "", "-leading", "trailing-", "a".repeat(64),
            "x'; DROP TABLE vm; --", "x\" OR \"1\"=\"1", "<script>alert(1)</script>", "名前", "a\u0000b",
            "../../etc/passwd", "${jndi:ldap://x/a}"};

    private String vm(String name) {
        return json.writeValueAsString(Map.of("name", name, "instanceType", "h100x1", "location", "bad-input"));
    }

    @Test
    void malformedWrongTypedUnknownAndHugeBodiesAreClientErrors() {
        String token = projectToken("bad-input-corp", "p");
        assertProblem(send("POST", "/api/v1/vms", token, "{not json", false), 400);
        assertProblem(send("POST", "/api/v1/vms", token, "", false), 400);
        assertProblem(send("POST", "/api/v1/vms", token, "[1, 2]", false), 400);
        assertFieldProblem(send("POST", "/api/v1/vms", token, "{\"name\": {}, \"instanceType\": \"h100x1\"}", false),
                400, "name");
        assertFieldProblem(send("POST", "/api/v1/vms", token,
                "{\"name\": \"ok\", \"instanceType\": \"h100x1\", \"expectedDurationSeconds\": \"soon\"}", false),
                400, "expectedDurationSeconds");
        assertFieldProblem(send("POST", "/api/v1/vms", token,
                "{\"name\": \"ok\", \"instanceType\": \"h100x1\", \"sshKeyIds\": [\"not-a-uuid\"]}", false),
                400, "sshKeyIds[0]");
        assertFieldProblem(send("POST", "/api/v1/vms", token,
                "{\"name\": \"ok\", \"instanceType\": \"h100x1\", \"sshPublicKeys\": \"ssh-ed25519 AAAA\"}", false),
                400, "sshPublicKeys");
        var unknown = send("POST", "/api/v1/vms", token,
                "{\"name\": \"ok\", \"instanceType\": \"h100x1\", \"gpuCount\": 8}", false);
        assertFieldProblem(unknown, 400, "gpuCount");
        assertThat(unknown.json().get("type").asString()).endsWith("/unknown-field");
        assertFieldProblem(send("POST", "/api/v1/ssh-keys", token,
                "{\"name\": \"k\", \"publicKey\": \"x\", \"admin\": true}", false), 400, "admin");

        String huge = vm("x".repeat(100 * 1024));
        assertProblem(send("POST", "/api/v1/vms", token, huge, false), 413);
        assertProblem(send("POST", "/api/v1/vms", token, huge, true), 413);
        assertProblem(send("POST", "/api/v1/ssh-keys", token, huge, true), 413);

        var wrongType = send("POST", "/api/v1/vms", token, vm("ok"), false, "Content-Type", "text/plain");
        assertThat(wrongType.status()).isEqualTo(415);
        assertThat(jdbc.sql("SELECT count(*) FROM vm WHERE location = 'bad-input'").query(Long.class).single())
                .isZero();
    }

    @Test
    void everyFieldIsValidatedPrecisely() {
        String token = projectToken("bad-input-corp", "fields");
        for (String name : HOSTILE_NAMES) {
            assertFieldProblem(call("POST", "/api/v1/vms", token, vm(name)), 400, "name");
            if (!name.equals("trailing-")) { // a fine key name, unlike a VM name (a DNS label)
                assertFieldProblem(call("POST", "/api/v1/ssh-keys", token,
                        Map.of("name", name, "publicKey", ed25519Key("x"))), 400, "name");
            }
        }
        assertThat(jdbc.sql("SELECT count(*) FROM vm").query(Long.class).single()).as("the vm table survived")
                .isNotNegative();
        assertFieldProblem(call("POST", "/api/v1/vms", token, Map.of("name", "ok")), 400, "instanceType");
        assertFieldProblem(call("POST", "/api/v1/vms", token, Map.of("name", "ok", "instanceType", "h100x3")), 400,
                "instanceType");
        assertFieldProblem(call("POST", "/api/v1/vms", token, Map.of("name", "ok", "instanceType", "h100x1",
                "location", "eu-1'; DROP TABLE host; --")), 400, "location");
        assertFieldProblem(call("POST", "/api/v1/vms", token, Map.of("name", "ok", "instanceType", "h100x1",
                "expectedDurationSeconds", -5)), 400, "expectedDurationSeconds");
        assertFieldProblem(call("POST", "/api/v1/vms", token, Map.of("name", "ok", "instanceType", "h100x1",
                "sshPublicKeys", java.util.List.of(ed25519Key("ok"), "ssh-dss AAAAB3NzaC1kc3M="))), 400,
                "sshPublicKeys[1]");
        assertFieldProblem(send("POST", "/api/v1/vms", token, vm("ok"), false, "Idempotency-Key", "k".repeat(300)),
                400, "Idempotency-Key");

        // SSH keys: type, base64, a body of the declared type, a clean comment, unique names
        String ed = ed25519Key("x").split(" ")[1];
        byte[] rsaHeader = ByteBuffer.allocate(4 + 7).putInt(7).put("ssh-rsa".getBytes(StandardCharsets.US_ASCII))
                .array();
        for (String key : new String[] {"", "ssh-dss " + ed, "ssh-ed25519", "ssh-ed25519 !!!not-base64!!!",
                "ssh-rsa " + ed, "ssh-ed25519 " + Base64.getEncoder().encodeToString(rsaHeader),
                "ssh-ed25519 " + ed + " <script>\u0007</script>", "ssh-ed25519 " + ed + " " + "c".repeat(20_000)}) {
            assertFieldProblem(call("POST", "/api/v1/ssh-keys", token, Map.of("name", "k", "publicKey", key)), 400,
                    "publicKey");
        }
        assertThat(call("POST", "/api/v1/ssh-keys", token, Map.of("name", "dup", "publicKey", ed25519Key("a")))
                .status()).isEqualTo(201);
        assertFieldProblem(call("POST", "/api/v1/ssh-keys", token, Map.of("name", "dup",
                "publicKey", ed25519Key("b"))), 409, "name");

        // query parameters and path variables
        assertFieldProblem(call("GET", "/api/v1/vms?limit=0", token, null), 400, "limit");
        assertFieldProblem(call("GET", "/api/v1/vms?limit=101", token, null), 400, "limit");
        assertFieldProblem(call("GET", "/api/v1/vms?limit=ten", token, null), 400, "limit");
        assertFieldProblem(call("GET", "/api/v1/vms?cursor=bm90LWEtY3Vyc29y", token, null), 400, "cursor");
        assertFieldProblem(call("GET", "/api/v1/vms?cursor=%25%25%25", token, null), 400, "cursor");
        assertFieldProblem(call("GET", "/api/v1/vms?state=exploded", token, null), 400, "state");
        assertFieldProblem(call("GET", "/api/v1/vms/not-a-uuid", token, null), 400, "vmId");
        assertFieldProblem(call("DELETE", "/api/v1/ssh-keys/1%27DROP", token, null), 400, "keyId");
        // ';' (path parameters) is refused by the HTTP firewall before routing, still as problem+json
        assertProblem(call("DELETE", "/api/v1/ssh-keys/1;DROP", token, null), 400);
        assertProblem(call("GET", "/api/v1/vms/" + UUID.randomUUID(), token, null), 404);
        var noSuchAction = call("POST", "/api/v1/vms/" + UUID.randomUUID() + "/explode", token, null);
        assertThat(noSuchAction.status()).isEqualTo(404);
        assertThat(noSuchAction.contentType()).startsWith("application/problem+json");
    }

    @Test
    void onlyLiveProjectTokensGetIn() {
        assertProblem(call("GET", "/api/v1/vms", null, null), 401);
        assertProblem(call("GET", "/api/v1/vms", "gpc_project_not-a-real-token", null), 401);
        assertProblem(call("POST", "/api/v1/vms", "x".repeat(500), vm("ok")), 401);
        assertProblem(call("GET", "/api/v1/instance-types", adminToken(), null), 403);
        assertProblem(call("GET", "/api/v1/ssh-keys", bootstrapToken(), null), 403);
        var revoked = tokens.issueProjectToken("revoked", projects.ensureProject("bad-input-corp", "p"));
        jdbc.sql("UPDATE api_token SET revoked_at = now() WHERE id = ?").param(revoked.id()).update();
        assertProblem(call("GET", "/api/v1/vms", revoked.token(), null), 401);
        var expired = tokens.issueProjectToken("expired", projects.ensureProject("bad-input-corp", "p"));
        jdbc.sql("UPDATE api_token SET expires_at = now() - interval '1 minute' WHERE id = ?").param(expired.id())
                .update();
        assertProblem(call("DELETE", "/api/v1/vms/" + UUID.randomUUID(), expired.token(), null), 401);
    }
}
