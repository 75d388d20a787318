package io.gpucloud.worker.agent;

import io.gpucloud.protocol.Heartbeat;
import io.gpucloud.protocol.HeartbeatResponse;
import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.RegisterRequest;
import io.gpucloud.protocol.RegisterResponse;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.UUID;
import tools.jackson.databind.json.JsonMapper;

/** The worker side of the control plane's {@code /worker/v1} protocol (JDK HTTP client + Jackson). */
public class ControlPlaneClient {

    static {
        // Java 17's HTTP client keeps an idle connection for 20 minutes; Tomcat closes it after 60 s. A
        // request sent on one the server has just closed fails unanswered ("header parser received no
        // bytes"). Dropping idle connections first avoids that race. Read once, when the JDK's connection
        // pool is first used, so it is set here, before this class makes its client.
        if (System.getProperty("jdk.httpclient.keepalive.timeout") == null) {
            System.setProperty("jdk.httpclient.keepalive.timeout", "30");
        }
    }

    private final URI baseUri;
    private final HttpClient http;
    private final JsonMapper json;

    public ControlPlaneClient(URI baseUri) {
        this.baseUri = baseUri.toString().endsWith("/") ? baseUri : URI.create(baseUri + "/");
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        this.json = JsonMapper.builder().build();
    }

    public RegisterResponse register(String bootstrapToken, RegisterRequest request) {
        return send("POST", "worker/v1/register", bootstrapToken, request, RegisterResponse.class);
    }

    public RegisterResponse reportTopology(UUID hostId, String credential, HostTopology topology) {
        return send("PUT", "worker/v1/hosts/" + hostId + "/topology", credential, topology, RegisterResponse.class);
    }

    public HeartbeatResponse heartbeat(UUID hostId, String credential, Heartbeat heartbeat) {
        return send("POST", "worker/v1/hosts/" + hostId + "/heartbeat", credential, heartbeat, HeartbeatResponse.class);
    }

    /** Reports what the host runs after a (re)registration; the answer names what gets restored and the orphans. */
    public io.gpucloud.protocol.ReconcileResponse reconcile(UUID hostId, String credential,
                                                           io.gpucloud.protocol.HostStateReport report) {
        return send("POST", "worker/v1/hosts/" + hostId + "/reconcile", credential, report,
                io.gpucloud.protocol.ReconcileResponse.class);
    }

    /** Long-polls for the next job; empty when none arrived within {@code waitSeconds}. */
    public java.util.Optional<io.gpucloud.protocol.job.Job> leaseJob(UUID hostId, String credential, int waitSeconds) {
        io.gpucloud.protocol.job.Job job = send("POST", "worker/v1/hosts/" + hostId + "/jobs/lease?wait=" + waitSeconds,
                credential, java.util.Map.of(), io.gpucloud.protocol.job.Job.class);
        return java.util.Optional.ofNullable(job);
    }

    /**
     * Reports a job's result and long-polls for the next job in the same request; empty when none
     * arrived within {@code waitSeconds}. Repeating it after a lost answer is harmless.
     */
    public java.util.Optional<io.gpucloud.protocol.job.Job> reportResultAndLease(UUID hostId, String credential,
            UUID jobId, io.gpucloud.protocol.job.JobResult result, int waitSeconds) {
        return java.util.Optional.ofNullable(send("POST", "worker/v1/hosts/" + hostId + "/jobs/" + jobId
                + "/result?next=" + waitSeconds, credential, result, io.gpucloud.protocol.job.Job.class));
    }

    /**
     * {@link #reportResultAndLease}, tried up to six times with backoff (0.2 s doubling) while the control
     * plane does not answer or answers 5xx: a lost result would leave the job leased until its lease
     * expires. A 4xx is final. {@code onRetry} hears each failure that is retried.
     */
    public java.util.Optional<io.gpucloud.protocol.job.Job> reportResultAndLeaseRetrying(UUID hostId,
            String credential, UUID jobId, io.gpucloud.protocol.job.JobResult result, int waitSeconds,
            java.util.function.Consumer<ControlPlaneException> onRetry) throws InterruptedException {
        for (int i = 0; ; i++) {
            try {
                return reportResultAndLease(hostId, credential, jobId, result, waitSeconds);
            } catch (ControlPlaneException e) {
                if (i >= 5 || (e.status() >= 400 && e.status() < 500)) {
                    throw e;
                }
                onRetry.accept(e);
                Thread.sleep(200L << i);
            }
        }
    }

    private <T> T send(String method, String path, String bearer, Object body, Class<T> answer) {
        HttpRequest request = HttpRequest.newBuilder(baseUri.resolve(path))
                .timeout(Duration.ofSeconds(45))
                .header("Authorization", "Bearer " + bearer)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .method(method, HttpRequest.BodyPublishers.ofByteArray(json.writeValueAsBytes(body)))
                .build();
        HttpResponse<String> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new ControlPlaneException(0, "control plane unreachable at " + baseUri + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ControlPlaneException(0, "interrupted", e);
        }
        if (response.statusCode() / 100 != 2) {
            throw new ControlPlaneException(response.statusCode(),
                    method + " " + path + " answered " + response.statusCode() + ": " + response.body(), null);
        }
        if (response.statusCode() == 204 || answer == Void.class || response.body().isBlank()) {
            return null;
        }
        return json.readValue(response.body(), answer);
    }

    /** A failed call; {@code status} 0 means no HTTP answer at all. */
    public static class ControlPlaneException extends RuntimeException {
        private final int status;

        public ControlPlaneException(int status, String message, Throwable cause) {
            super(message, cause);
            this.status = status;
        }

        public int status() {
            return status;
        }
    }
}
