package io.gpucloud.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.tenancy.TokenService;
import io.gpucloud.controlplane.web.RateLimitFilter;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import tools.jackson.databind.JsonNode;

/**
 * Per-token rate limits. The test profile's default limit is huge (other tests poll quickly), so
 * each test gives a fresh token a tiny limit of its own; nothing else shares those buckets.
 */
class RateLimitTest extends CustomerApiTestBase {

    @Autowired
    RateLimitFilter rateLimits;

    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<String> get(String path, String bearer) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .header("Authorization", "Bearer " + bearer).header("Accept", "application/json").GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aProjectTokenOverItsLimitGets429WithRetryAfter() throws Exception {
        TokenService.IssuedToken limited = tokens.issueProjectToken("rate-limited",
                projects.ensureProject("rate-corp", "burst"));
        rateLimits.overrideLimit(limited.id(), 3, 1);
        String other = projectToken("rate-corp", "burst");

        for (int remaining = 2; remaining >= 0; remaining--) {
            HttpResponse<String> ok = get("/api/v1/tokens", limited.token());
            assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
            assertThat(ok.headers().firstValue("X-RateLimit-Remaining")).hasValue(Integer.toString(remaining));
            assertThat(ok.headers().firstValue("X-RateLimit-Limit")).hasValue("3");
        }

        HttpResponse<String> refused = get("/api/v1/tokens", limited.token());
        assertThat(refused.statusCode()).as(refused.body()).isEqualTo(429);
        assertThat(refused.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
        long retryAfter = Long.parseLong(refused.headers().firstValue("Retry-After").orElseThrow());
        // one token a minute: the next one is due in (0, 60] seconds
        assertThat(retryAfter).isBetween(1L, 60L);
        assertThat(refused.headers().firstValue("X-RateLimit-Remaining")).hasValue("0");
        JsonNode problem = json.readTree(refused.body());
        assertThat(problem.get("type").asString()).isEqualTo("https://gpucloud.dev/problems/rate-limited");
        assertThat(problem.get("status").asInt()).isEqualTo(429);
        assertThat(problem.get("detail").asString()).contains("3 requests").contains("1 per minute");
        assertThat(problem.get("retryAfterSeconds").asLong()).isEqualTo(retryAfter);
        assertThat(refused.body()).doesNotContain("Exception");

        // the limit is per token: another token of the same project is unaffected
        HttpResponse<String> otherToken = get("/api/v1/tokens", other);
        assertThat(otherToken.statusCode()).isEqualTo(200);
        assertThat(Long.parseLong(otherToken.headers().firstValue("X-RateLimit-Remaining").orElseThrow()))
                .isGreaterThan(1000);
    }

    @Test
    void adminTokensAreLimitedToo() throws Exception {
        TokenService.IssuedToken admin = tokens.issueAdminToken("rate-limited-admin");
        rateLimits.overrideLimit(admin.id(), 1, 1);
        assertThat(get("/admin/api/v1/hosts", admin.token()).statusCode()).isEqualTo(200);
        HttpResponse<String> refused = get("/admin/api/v1/hosts", admin.token());
        assertThat(refused.statusCode()).isEqualTo(429);
        assertThat(refused.headers().firstValue("Retry-After")).isPresent();
    }

    @Test
    void unauthenticatedAndUnlimitedPathsCarryNoRateLimitHeaders() throws Exception {
        HttpResponse<String> unauthenticated = get("/api/v1/tokens", "gpc_project_unknown");
        assertThat(unauthenticated.statusCode()).isEqualTo(401);
        assertThat(unauthenticated.headers().firstValue("X-RateLimit-Remaining")).isEmpty();
        HttpResponse<String> health = get("/actuator/health", "whatever");
        assertThat(health.headers().firstValue("X-RateLimit-Remaining")).isEmpty();
    }
}
