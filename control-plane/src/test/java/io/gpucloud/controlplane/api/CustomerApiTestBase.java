package io.gpucloud.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.inventory.TestTopologiesAccess;
import io.gpucloud.controlplane.tenancy.Projects;
import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.job.JobResult;
import io.gpucloud.worker.agent.ControlPlaneClient;
import io.gpucloud.worker.agent.WorkerAgent;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.springframework.beans.factory.annotation.Autowired;
import tools.jackson.databind.JsonNode;

/** Customer-API tests: project tokens, a simulated host whose jobs all succeed, and OpenSSH keys. */
abstract class CustomerApiTestBase extends ControlPlaneTestBase {

    @Autowired
    Projects projects;

    private final List<WorkerAgent> agents = new ArrayList<>();
    private final HttpClient http = HttpClient.newHttpClient();

    @AfterEach
    void stopAgents() {
        agents.forEach(WorkerAgent::close);
    }

    String projectToken(String tenant, String project) {
        return tokens.issueProjectToken(tenant + "-" + project, projects.ensureProject(tenant, project)).token();
    }

    /** A registered H100 host in {@code location} whose worker reports every job as succeeded. */
    void startHost(String name, String location) {
        startHost(name, location, () -> null);
    }

    /** As {@link #startHost(String, String)}, whose worker reports these boot images with each heartbeat. */
    void startHost(String name, String location, java.util.function.Supplier<List<String>> bootImages) {
        HostTopology topology = TestTopologiesAccess.h100(name);
        WorkerAgent agent = new WorkerAgent(new ControlPlaneClient(URI.create("http://127.0.0.1:" + port)),
                known -> topology, bootstrapToken(), location, null).withBootImages(bootImages);
        agent.withJobs(job -> new JobResult(true,
                List.of(new JobResult.Step(job.kind().name(), "sim", 0, "", 1, true)), null, null, Map.of()));
        agent.start();
        agents.add(agent);
        await(() -> jdbc.sql("SELECT count(*) FROM host WHERE name = ? AND state = 'ready'").param(name)
                .query(Long.class).single() == 1, "host " + name + " ready");
    }

    JsonNode awaitState(String token, String vmId, String state) {
        JsonNode[] last = new JsonNode[1];
        await(() -> {
            last[0] = call("GET", "/api/v1/vms/" + vmId, token, null).json();
            return state.equals(last[0].get("state").asString());
        }, "VM " + vmId + " to be " + state);
        return last[0];
    }

    static void await(BooleanSupplier condition, String what) {
        long deadline = System.currentTimeMillis() + 20_000;
        while (System.currentTimeMillis() < deadline) {
            if (condition.getAsBoolean()) {
                return;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        throw new AssertionError("timed out waiting for " + what);
    }


    /** Like {@link #call} with extra headers, or a body streamed without a declared length. */
    Response send(String method, String path, String bearer, String body, boolean chunked, String... headers) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .header("Accept", "application/json").header("Content-Type", "application/json");
            if (bearer != null) {
                b.header("Authorization", "Bearer " + bearer);
            }
            for (int i = 0; i < headers.length; i += 2) {
                b.setHeader(headers[i], headers[i + 1]);
            }
            byte[] bytes = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
            b.method(method, chunked
                    ? HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(bytes))
                    : HttpRequest.BodyPublishers.ofByteArray(bytes));
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            String type = r.headers().firstValue("Content-Type").orElse("");
            JsonNode node = !r.body().isBlank() && type.contains("json") ? json.readTree(r.body()) : null;
            return new Response(r.statusCode(), type, r.body(), node);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }


    static void assertFieldProblem(Response r, int status, String field) {
        assertProblem(r, status);
        assertThat(r.json().get("field").asString()).as(r.body()).isEqualTo(field);
    }
}
