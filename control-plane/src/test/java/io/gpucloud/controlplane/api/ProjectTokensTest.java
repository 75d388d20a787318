package io.gpucloud.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** Customers create, list and revoke their project's API tokens; other projects' tokens are 404. */
class ProjectTokensTest extends CustomerApiTestBase {

    @Test
    void createListRevoke() {
        String first = projectToken("tok-corp", "ml");

        Response created = call("POST", "/api/v1/tokens", first, Map.of("name", "ci pipeline", "ttlDays", 30));
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        String id = created.json().get("id").asString();
        String secret = created.json().get("token").asString();
        assertThat(secret).startsWith("gpc_project_");
        assertThat(created.json().get("prefix").asString()).isEqualTo(secret.substring(0, 14));
        assertThat(created.json().get("name").asString()).isEqualTo("ci pipeline");
        assertThat(created.json().get("expiresAt").isNull()).isFalse();

        // the new token works, and the list shows it without the secret or its hash
        Response list = call("GET", "/api/v1/tokens", secret, null);
        assertThat(list.status()).as(list.body()).isEqualTo(200);
        assertThat(list.body()).doesNotContain(secret).doesNotContain(first)
                .doesNotContain(io.gpucloud.controlplane.tenancy.Tokens.hash(secret));
        JsonNode mine = item(list.json(), id);
        assertThat(mine.get("name").asString()).isEqualTo("ci pipeline");
        assertThat(mine.get("prefix").asString()).isEqualTo(secret.substring(0, 14));
        assertThat(mine.get("createdAt").isNull()).isFalse();
        assertThat(mine.get("lastUsedAt").isNull()).as("touched by the list call").isFalse();
        assertThat(mine.get("revokedAt").isNull()).isTrue();
        assertThat(mine.has("token")).isFalse();
        assertThat(mine.has("tokenHash")).isFalse();
        assertThat(list.json().get("items").size()).isEqualTo(2);

        Response one = call("GET", "/api/v1/tokens/" + id, first, null);
        assertThat(one.status()).isEqualTo(200);
        assertThat(one.json().get("id").asString()).isEqualTo(id);

        // without ttlDays the token does not expire
        Response forever = call("POST", "/api/v1/tokens", first, Map.of("name", "forever"));
        assertThat(forever.status()).isEqualTo(201);
        assertThat(forever.json().get("expiresAt").isNull()).isTrue();

        assertThat(call("DELETE", "/api/v1/tokens/" + id, first, null).status()).isEqualTo(204);
        assertProblem(call("GET", "/api/v1/tokens", secret, null), 401);
        // revoking again is harmless
        assertThat(call("DELETE", "/api/v1/tokens/" + id, first, null).status()).isEqualTo(204);
        JsonNode revoked = item(call("GET", "/api/v1/tokens", first, null).json(), id);
        assertThat(revoked.get("revokedAt").isNull()).isFalse();

        // a token may revoke itself; its next call is refused
        String self = forever.json().get("token").asString();
        assertThat(call("DELETE", "/api/v1/tokens/" + forever.json().get("id").asString(), self, null).status())
                .isEqualTo(204);
        assertProblem(call("GET", "/api/v1/tokens", self, null), 401);
        assertThat(call("GET", "/api/v1/tokens", first, null).status()).isEqualTo(200);

        // the revocation is audited
        assertThat(jdbc.sql("SELECT count(*) FROM audit_event WHERE action = 'token.delete' AND target_id = ?")
                .param(id).query(Long.class).single()).isGreaterThanOrEqualTo(1);
    }

    @Test
    void tokensAreIsolatedBetweenProjects() {
        String alice = projectToken("tok-alice-corp", "research");
        String bob = projectToken("tok-bob-corp", "research");
        Response created = call("POST", "/api/v1/tokens", alice, Map.of("name", "alice-ci"));
        assertThat(created.status()).isEqualTo(201);
        String aliceId = created.json().get("id").asString();

        assertProblem(call("GET", "/api/v1/tokens/" + aliceId, bob, null), 404);
        assertProblem(call("DELETE", "/api/v1/tokens/" + aliceId, bob, null), 404);
        assertThat(ids(call("GET", "/api/v1/tokens", bob, null).json())).doesNotContain(aliceId).hasSize(1);
        assertThat(ids(call("GET", "/api/v1/tokens", alice, null).json())).contains(aliceId).hasSize(2);
        // still live after bob's attempt
        assertThat(call("GET", "/api/v1/tokens", created.json().get("token").asString(), null).status())
                .isEqualTo(200);
        assertProblem(call("GET", "/api/v1/tokens/" + UUID.randomUUID(), alice, null), 404);
        // admin tokens are not project tokens and cannot be managed or listed here
        String adminId = jdbc.sql("SELECT id::text FROM api_token WHERE kind = 'admin' LIMIT 1")
                .query(String.class).optional().orElse(null);
        if (adminId != null) {
            assertProblem(call("DELETE", "/api/v1/tokens/" + adminId, alice, null), 404);
        }
        assertProblem(call("GET", "/api/v1/tokens", adminToken(), null), 403);
    }

    @Test
    void badInputIsA400Problem() {
        String token = projectToken("tok-bad-corp", "ml");
        assertFieldProblem(call("POST", "/api/v1/tokens", token, Map.of()), 400, "name");
        assertFieldProblem(call("POST", "/api/v1/tokens", token, Map.of("name", " ")), 400, "name");
        assertFieldProblem(call("POST", "/api/v1/tokens", token, Map.of("name", "x".repeat(101))), 400, "name");
        assertFieldProblem(call("POST", "/api/v1/tokens", token, Map.of("name", "tab\there")), 400, "name");
        assertFieldProblem(call("POST", "/api/v1/tokens", token, Map.of("name", "a", "ttlDays", 0)), 400, "ttlDays");
        assertFieldProblem(call("POST", "/api/v1/tokens", token, Map.of("name", "a", "ttlDays", 366)), 400, "ttlDays");
        assertFieldProblem(call("POST", "/api/v1/tokens", token, Map.of("name", "a", "ttlDays", "soon")), 400, "ttlDays");
        assertFieldProblem(call("POST", "/api/v1/tokens", token, Map.of("name", "a", "scope", "admin")), 400, "scope");
        assertProblem(call("POST", "/api/v1/tokens", token, "{not json"), 400);
        assertFieldProblem(call("DELETE", "/api/v1/tokens/not-a-uuid", token, null), 400, "tokenId");
    }

    private static JsonNode item(JsonNode list, String id) {
        for (JsonNode n : list.get("items")) {
            if (n.get("id").asString().equals(id)) {
                return n;
            }
        }
        throw new AssertionError("token " + id + " not in " + list);
    }

    private static List<String> ids(JsonNode list) {
        List<String> ids = new ArrayList<>();
        list.get("items").forEach(n -> ids.add(n.get("id").asString()));
        return ids;
    }
}
