package io.gpucloud.controlplane.web;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.tenancy.Projects;
import io.gpucloud.protocol.Heartbeat;
import io.gpucloud.protocol.RegisterRequest;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

/** Every credential reaches only its own surface, and every failure is problem+json. */
class ApiSecurityAndErrorsTest extends ControlPlaneTestBase {

    @Autowired
    Projects projects;

    @Test
    void adminApiRejectsMissingUnknownAndWrongKindsOfTokens() {
        assertProblem(call("GET", "/admin/api/v1/hosts", null, null), 401);
        assertProblem(call("GET", "/admin/api/v1/hosts", "gpc_admin_not-a-real-token", null), 401);
        String project = tokens.issueProjectToken("p", projects.ensureProject("acme", "ml")).token();
        assertProblem(call("GET", "/admin/api/v1/hosts", project, null), 403);
        assertProblem(call("GET", "/admin/api/v1/hosts", bootstrapToken(), null), 403);
        assertThat(call("GET", "/admin/api/v1/hosts", adminToken(), null).status()).isEqualTo(200);
    }

    @Test
    void theApiAnswersJsonOnly() throws Exception {
        var request = java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port
                        + "/admin/api/v1/hosts"))
                .header("Authorization", "Bearer " + adminToken()).header("Accept", "application/yaml").GET().build();
        var r = java.net.http.HttpClient.newHttpClient().send(request, java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(406);
        assertThat(r.body()).doesNotContain("items:");
        assertThat(call("GET", "/admin/api/v1/hosts", adminToken(), null).json().has("items")).isTrue();
    }

    @Test
    void revokedAndExpiredTokensAreRefused() {
        var issued = tokens.issueAdminToken("soon-revoked");
        jdbc.sql("UPDATE api_token SET revoked_at = now() WHERE id = ?").param(issued.id()).update();
        assertProblem(call("GET", "/admin/api/v1/hosts", issued.token(), null), 401);

        String expired = tokens.issueBootstrapToken("old", Instant.now().minus(1, ChronoUnit.MINUTES)).token();
        assertProblem(call("POST", "/worker/v1/register", expired,
                new RegisterRequest("t", null, io.gpucloud.controlplane.inventory.TestTopologiesAccess.h100("x-expired"))), 401);
    }

    @Test
    void tokensAreStoredOnlyAsHashes() {
        var issued = tokens.issueAdminToken("hash-check");
        String stored = jdbc.sql("SELECT token_hash FROM api_token WHERE id = ?").param(issued.id())
                .query(String.class).single();
        assertThat(stored).hasSize(64).doesNotContain(issued.token());
        long clear = jdbc.sql("SELECT count(*) FROM api_token WHERE token_hash = ? OR token_prefix = ?")
                .params(issued.token(), issued.token()).query(Long.class).single();
        assertThat(clear).isZero();
    }

    @Test
    void aWorkerCanOnlyTouchItsOwnHost() {
        String bootstrap = bootstrapToken();
        Response a = call("POST", "/worker/v1/register", bootstrap,
                new RegisterRequest("t", null, io.gpucloud.controlplane.inventory.TestTopologiesAccess.h100("sec-a")));
        Response b = call("POST", "/worker/v1/register", bootstrap,
                new RegisterRequest("t", null, io.gpucloud.controlplane.inventory.TestTopologiesAccess.h100("sec-b")));
        String credentialA = a.json().get("credential").asString();
        String hostB = b.json().get("hostId").asString();
        assertProblem(call("POST", "/worker/v1/hosts/" + hostB + "/heartbeat", credentialA,
                new Heartbeat(Instant.now(), "t")), 404);
        assertProblem(call("PUT", "/worker/v1/hosts/" + hostB + "/topology", credentialA,
                io.gpucloud.controlplane.inventory.TestTopologiesAccess.h100("sec-b")), 404);
        // a host credential is not an admin credential, nor a bootstrap token
        assertProblem(call("GET", "/admin/api/v1/hosts", credentialA, null), 401);
        assertProblem(call("POST", "/worker/v1/register", credentialA,
                new RegisterRequest("t", null, io.gpucloud.controlplane.inventory.TestTopologiesAccess.h100("sec-c"))), 401);
        // claiming another host's name with one's own credential is refused
        String hostA = a.json().get("hostId").asString();
        assertProblem(call("PUT", "/worker/v1/hosts/" + hostA + "/topology", credentialA,
                io.gpucloud.controlplane.inventory.TestTopologiesAccess.h100("sec-b")), 409);
    }

    @Test
    void badInputGetsPreciseClientErrors() {
        String admin = adminToken();
        assertProblem(call("GET", "/admin/api/v1/hosts/not-a-uuid", admin, null), 400);
        Response missing = call("GET", "/admin/api/v1/hosts/" + UUID.randomUUID(), admin, null);
        assertProblem(missing, 404);
        assertThat(missing.json().get("type").asString()).endsWith("/not-found");
        Response badState = call("GET", "/admin/api/v1/hosts?state=exploded", admin, null);
        assertProblem(badState, 400);
        assertThat(badState.json().get("field").asString()).isEqualTo("state");

        String bootstrap = bootstrapToken();
        assertProblem(call("POST", "/worker/v1/register", bootstrap, "{not json"), 400);
        assertProblem(call("POST", "/worker/v1/register", bootstrap, "{\"topology\": 42}"), 400);
        assertProblem(call("POST", "/worker/v1/register", bootstrap, Map.of("workerVersion", "x")), 400);
        Response badName = call("POST", "/worker/v1/register", bootstrap,
                new RegisterRequest("t", null, io.gpucloud.controlplane.inventory.TestTopologiesAccess.h100("bad name; DROP TABLE host")));
        assertProblem(badName, 400);
        assertThat(badName.json().get("field").asString()).isEqualTo("topology.hostName");

        assertProblem(call("POST", "/admin/api/v1/bootstrap-tokens", admin, Map.of("name", "w", "ttlHours", 99999)), 400);
        Response created = call("POST", "/admin/api/v1/bootstrap-tokens", admin, Map.of("name", "rack-12"));
        assertThat(created.status()).isEqualTo(201);
        assertThat(created.json().get("token").asString()).startsWith("gpc_bootstrap_");
    }

    @Test
    void healthProbesAndPrometheusMetricsAreServed() throws Exception {
        assertThat(call("GET", "/actuator/health/liveness", null, null).body()).contains("UP");
        assertThat(call("GET", "/actuator/health/readiness", null, null).body()).contains("UP");
        call("POST", "/worker/v1/register", bootstrapToken(),
                new RegisterRequest("t", null, io.gpucloud.controlplane.inventory.TestTopologiesAccess.h100("metrics-h100")));
        String metrics = "";
        for (int i = 0; i < 50 && !metrics.contains("host=\"metrics-h100\""); i++) {
            Thread.sleep(100);
            metrics = getText("/actuator/prometheus");
        }
        assertThat(metrics).contains("gpucloud_gpus_free{").contains("model=\"H100-SXM5-80GB\"");
        assertThat(metrics).contains("gpucloud_partitions_free{").contains("size=\"8\"");
        assertThat(metrics).contains("gpucloud_worker_heartbeat_age_seconds{host=\"metrics-h100\"");
        assertThat(metrics).contains("gpucloud_worker_registrations_total");
    }

    /** Tomcat refuses these before any filter runs; the answer is still a 400 problem, not Tomcat's HTML page. */
    @Test
    void urlsTomcatRefusesItselfGetAProblemToo() {
        for (String path : java.util.List.of("/admin/api/v1/vms/%2F", "/api/v1/vms/%00", "/admin/api/v1/hosts/..%2f..")) {
            Response r = call("GET", path, adminToken(), null);
            assertProblem(r, 400);
            assertThat(r.json().get("type").asString()).as(path).isEqualTo("https://gpucloud.dev/problems/invalid-request");
            assertThat(r.body()).doesNotContain("<html").doesNotContain("Tomcat");
        }
    }
}
