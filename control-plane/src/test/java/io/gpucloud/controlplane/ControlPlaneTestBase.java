package io.gpucloud.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.tenancy.TokenService;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.context.ActiveProfiles;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A real control plane on a random port over a fresh embedded PostgreSQL, called over HTTP the
 * way workers and operators call it. Subclasses share one context (Spring caches it).
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@ActiveProfiles("test")
public abstract class ControlPlaneTestBase {

    @LocalServerPort
    protected int port;

    @Autowired
    protected JdbcClient jdbc;

    @Autowired
    protected TokenService tokens;

    protected final JsonMapper json = JsonMapper.builder().build();
    private final HttpClient http = HttpClient.newHttpClient();

    public record Response(int status, String contentType, String body, JsonNode json) {
    }

    protected Response call(String method, String path, String bearer, Object body) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .header("Accept", "application/json");
            if (bearer != null) {
                b.header("Authorization", "Bearer " + bearer);
            }
            if (body instanceof String s) {
                b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(s));
            } else if (body != null) {
                b.header("Content-Type", "application/json")
                        .method(method, HttpRequest.BodyPublishers.ofByteArray(json.writeValueAsBytes(body)));
            } else {
                b.method(method, HttpRequest.BodyPublishers.noBody());
            }
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            JsonNode node = null;
            if (!r.body().isBlank() && r.headers().firstValue("Content-Type").orElse("").contains("json")) {
                node = json.readTree(r.body());
            }
            return new Response(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""), r.body(), node);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** GET of a non-JSON resource such as the Prometheus scrape page. */
    protected String getText(String path) {
        try {
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .header("Accept", "text/plain").GET().build();
            return http.send(request, HttpResponse.BodyHandlers.ofString()).body();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** An RFC 9457 problem with this status, a type, title and detail, and no stack trace. */
    protected static void assertProblem(Response r, int status) {
        assertThat(r.status()).as(r.body()).isEqualTo(status);
        assertThat(r.contentType()).as(r.body())
                .startsWith("application/problem+json");
        assertThat(r.json().get("status").asInt()).isEqualTo(status);
        assertThat(r.json().get("type").asString())
                .startsWith("https://gpucloud.dev/problems/");
        assertThat(r.json().get("title").asString()).isNotBlank();
        assertThat(r.json().get("detail").asString()).isNotBlank();
        assertThat(r.body()).doesNotContain("Exception")
                .doesNotContain("at io.gpucloud");
    }

    /** Polls until {@code probe} returns non-null (every 50 ms, at most 30 s) and returns that value. */
    protected static <T> T awaitValue(java.util.function.Supplier<T> probe, String what) {
        long deadline = System.currentTimeMillis() + 30_000;
        while (System.currentTimeMillis() < deadline) {
            T value = probe.get();
            if (value != null) {
                return value;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
        throw new AssertionError("timed out waiting for " + what);
    }

    protected static void awaitCondition(java.util.function.BooleanSupplier condition, String what) {
        awaitValue(() -> condition.getAsBoolean() ? Boolean.TRUE : null, what);
    }

    /** The admin view of a VM once it reaches {@code state}. */
    protected JsonNode awaitVmState(String admin, String id, String state) {
        return awaitValue(() -> {
            JsonNode v = call("GET", "/admin/api/v1/vms/" + id, admin, null).json();
            return v.get("state").asString().equals(state) ? v : null;
        }, "VM " + id + " to be " + state);
    }

    protected String adminToken() {
        return tokens.issueAdminToken("test-admin").token();
    }

    protected String bootstrapToken() {
        return tokens.issueBootstrapToken("test-bootstrap", Instant.now().plus(1, ChronoUnit.HOURS)).token();
    }

    /** A syntactically real ssh-ed25519 public key (a random point; nobody can log in with it). */
    protected static String ed25519Key(String comment) {
        byte[] type = "ssh-ed25519".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        byte[] point = new byte[32];
        new java.security.SecureRandom().nextBytes(point);
        java.nio.ByteBuffer blob = java.nio.ByteBuffer.allocate(4 + type.length + 4 + point.length);
        blob.putInt(type.length).put(type).putInt(point.length).put(point);
        return "ssh-ed25519 " + java.util.Base64.getEncoder().encodeToString(blob.array()) + " " + comment;
    }
}
