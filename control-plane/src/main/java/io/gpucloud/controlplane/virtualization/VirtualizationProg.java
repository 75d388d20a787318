package io.gpucloud.controlplane.virtualization;

import io.gpucloud.controlplane.gateway.JobQueue;
import io.gpucloud.controlplane.gateway.JobQueue.JobRecord;
import io.gpucloud.controlplane.tenancy.Principal;
import io.gpucloud.controlplane.workflow.Outcome;
import io.gpucloud.controlplane.workflow.Prog;
import io.gpucloud.controlplane.workflow.Strand;
import io.gpucloud.protocol.job.Job;
import io.gpucloud.protocol.job.JobKind;
import io.gpucloud.protocol.job.JobResult;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * One GPU virtualization mode switch: {@code start} sends the host worker one SET_VIRTUALIZATION_MODE job
 * (once, however often the label runs) and naps until its result wakes it, then records the outcome
 * through {@link VirtualizationModes#finish}. If no worker takes the job within
 * {@code gpucloud.virtualization.take-timeout} (the host's worker is away), the job is withdrawn and the
 * switch fails with that reason, so the host does not stay {@code switching} for good; a job a worker
 * has taken always runs to its own result (its lease is re-offered if that worker dies).
 */
@Component
class VirtualizationProg implements Prog {

    static final String NAME = "virtualization";
    private static final Duration JOB_WAIT = Duration.ofSeconds(30);
    private static final String STEP = "switch";

    private final JobQueue jobs;
    private final VirtualizationModes modes;
    private final Duration takeTimeout;

    VirtualizationProg(JobQueue jobs, VirtualizationModes modes,
                       @Value("${gpucloud.virtualization.take-timeout:10m}") Duration takeTimeout) {
        this.jobs = jobs;
        this.modes = modes;
        this.takeTimeout = takeTimeout;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Outcome run(String label, Strand s) {
        if (!label.equals("start")) {
            throw new IllegalStateException("virtualization prog has no label " + label);
        }
        UUID host = s.uuid("hostId");
        JobRecord job = jobs.find(s.id(), STEP).orElse(null);
        if (job == null) {
            s.put("takeBy", Instant.now().plus(takeTimeout).toString());
            jobs.enqueueOnce(s.id(), STEP, host, new Job(UUID.randomUUID(), JobKind.SET_VIRTUALIZATION_MODE, null, 1,
                    gpuBdfs(s), null, null, null, null, new Job.Virtualization(s.string("mode"), params(s))));
            return Outcome.nap(JOB_WAIT);
        }
        if (!job.succeeded() && !job.failed()) {
            String takeBy = s.string("takeBy");
            if (takeBy == null || Instant.now().isBefore(Instant.parse(takeBy)) || !jobs.withdrawUntaken(job.id(),
                    "no host worker took the switch within " + takeTimeout.toSeconds() + " s (is the host's worker "
                            + "running?); nothing was changed on the host")) {
                return Outcome.nap(JOB_WAIT); // not due yet, or a live worker holds the job: wait for its result
            }
            job = jobs.find(s.id(), STEP).orElseThrow();
        }
        JobResult r = job.result();
        String reason = job.succeeded() ? null : r == null ? "the host worker reported no result"
                : r.error() + (r.errorCode() == null ? "" : " [" + r.errorCode() + "]");
        modes.finish(host, s.string("mode"), params(s), job.succeeded(), reason, actor(s));
        return Outcome.exit(job.succeeded() ? "ready" : "switch_failed");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> params(Strand s) {
        Object p = s.stack().get("params");
        return p instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }

    private static List<String> gpuBdfs(Strand s) {
        Object v = s.stack().get("gpuBdfs");
        return v instanceof List<?> l ? l.stream().map(String::valueOf).toList() : List.of();
    }

    private static Principal actor(Strand s) {
        String kind = s.string("actorKind");
        if (kind == null) {
            return null;
        }
        return new Principal(Principal.Kind.valueOf(kind), s.uuid("actorId"), null, s.string("actorName"));
    }
}
