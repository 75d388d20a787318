package io.gpucloud.controlplane.gateway;

import io.gpucloud.controlplane.inventory.HostRegistry;
import io.gpucloud.controlplane.tenancy.Principal;
import io.gpucloud.controlplane.tenancy.TokenService;
import io.gpucloud.protocol.Heartbeat;
import io.gpucloud.protocol.HeartbeatResponse;
import io.gpucloud.protocol.HostStateReport;
import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.ReconcileResponse;
import io.gpucloud.protocol.RegisterRequest;
import io.gpucloud.protocol.RegisterResponse;
import java.util.UUID;
import org.slf4j.MDC;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestAttribute;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import io.gpucloud.controlplane.web.ApiException;

/**
 * The host-worker protocol. Registration takes a bootstrap token; everything else takes the
 * host's own credential and only ever touches that host (another host's id is a 404).
 */
@RestController
@RequestMapping("/worker/v1")
class WorkerController {

    private static final java.time.Duration MAX_WAIT = java.time.Duration.ofSeconds(30);

    private final HostRegistry registry;
    private final JobQueue jobs;
    private final HostStateReconciler hostState;
    private final TokenService tokens;

    WorkerController(HostRegistry registry, JobQueue jobs, HostStateReconciler hostState, TokenService tokens) {
        this.registry = registry;
        this.jobs = jobs;
        this.hostState = hostState;
        this.tokens = tokens;
    }

    /**
     * Long-poll for work: answers with a leased job as soon as one exists, or 204 after
     * {@code wait} seconds (at most 30).
     */
    @PostMapping("/hosts/{hostId}/jobs/lease")
    org.springframework.http.ResponseEntity<io.gpucloud.protocol.job.Job> lease(@PathVariable UUID hostId,
            @org.springframework.web.bind.annotation.RequestParam(defaultValue = "30") int wait,
            @RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal principal) {
        ownHost(hostId, principal);
        if (wait < 0 || wait > MAX_WAIT.toSeconds()) {
            throw ApiException.badRequest("wait", "wait must be between 0 and " + MAX_WAIT.toSeconds() + " seconds.");
        }
        return jobs.lease(hostId, java.time.Duration.ofSeconds(wait))
                .map(org.springframework.http.ResponseEntity::ok)
                .orElseGet(() -> org.springframework.http.ResponseEntity.noContent().build());
    }

    /**
     * Records a job's result (a repeated report of a finished job changes nothing). With {@code next}
     * it then long-polls for the host's next job like {@code jobs/lease?wait=next} and answers with it
     * (or 204 when none came), so a busy worker asks once per job instead of twice; without it, 204 at
     * once. The result is committed before the wait, so a report whose answer is lost can be repeated.
     */
    @PostMapping("/hosts/{hostId}/jobs/{jobId}/result")
    org.springframework.http.ResponseEntity<io.gpucloud.protocol.job.Job> result(@PathVariable UUID hostId,
            @PathVariable UUID jobId, @RequestBody io.gpucloud.protocol.job.JobResult result,
            @org.springframework.web.bind.annotation.RequestParam(required = false) Integer next,
            @RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal principal) {
        ownHost(hostId, principal);
        if (next != null && (next < 0 || next > MAX_WAIT.toSeconds())) {
            throw ApiException.badRequest("next", "next must be between 0 and " + MAX_WAIT.toSeconds() + " seconds.");
        }
        if (!jobs.complete(hostId, jobId, result)) {
            throw ApiException.notFound("Job", jobId);
        }
        if (next == null) {
            return org.springframework.http.ResponseEntity.noContent().build();
        }
        return jobs.lease(hostId, java.time.Duration.ofSeconds(next))
                .map(org.springframework.http.ResponseEntity::ok)
                .orElseGet(() -> org.springframework.http.ResponseEntity.noContent().build());
    }

    @PostMapping("/register")
    RegisterResponse register(@RequestBody RegisterRequest request) {
        RegisterResponse r = registry.register(request);
        tokens.forgetHost(r.hostId()); // committed: the replaced credential stops working here at once
        jobs.endPolls(r.hostId()); // any poll still waiting is from the worker's previous life
        return r;
    }

    @PutMapping("/hosts/{hostId}/topology")
    RegisterResponse topology(@PathVariable UUID hostId, @RequestBody HostTopology topology,
                              @RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal principal) {
        ownHost(hostId, principal);
        jobs.endPolls(hostId); // a resuming worker: polls still waiting are from its previous life
        try (var ignored = MDC.putCloseable("hostId", hostId.toString())) {
            return registry.reportTopology(hostId, topology);
        }
    }

    /**
     * After (re)registering, the worker says what the host runs; VMs that should run there get their
     * partitions, vfio bindings and domains restored through the job queue, and domains or partitions
     * no VM owns come back as orphans (kept on the host's problem list, never destroyed).
     */
    @PostMapping("/hosts/{hostId}/reconcile")
    ReconcileResponse reconcile(@PathVariable UUID hostId, @RequestBody HostStateReport report,
                                @RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal principal) {
        ownHost(hostId, principal);
        jobs.endPolls(hostId); // before restore jobs exist, so no leftover poll of a dead worker takes one
        try (var ignored = MDC.putCloseable("hostId", hostId.toString())) {
            return hostState.reconcile(hostId, report);
        }
    }

    @PostMapping("/hosts/{hostId}/heartbeat")
    HeartbeatResponse heartbeat(@PathVariable UUID hostId, @RequestBody(required = false) Heartbeat heartbeat,
                                @RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal principal) {
        ownHost(hostId, principal);
        var result = registry.heartbeat(hostId, heartbeat == null ? null : heartbeat.workerVersion(),
                heartbeat == null ? null : heartbeat.bootImages());
        return new HeartbeatResponse(result.state(), result.reportTopology());
    }

    private static void ownHost(UUID hostId, Principal principal) {
        if (!principal.subjectId().equals(hostId)) {
            throw ApiException.notFound("Host", hostId);
        }
    }
}
