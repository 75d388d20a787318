package io.gpucloud.worker.job;

import io.gpucloud.protocol.job.Job;
import io.gpucloud.protocol.job.JobKind;
import io.gpucloud.protocol.job.JobResult;
import io.gpucloud.worker.action.ErrorCodes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * Runs a {@link JobKind#SEQUENCE}: its sub-jobs in order, each through {@code runStep}, stopping at
 * the first that fails; or a {@link JobKind#TEARDOWN}, which runs every sub-job even after one fails.
 * The result is one report for the whole sequence, as an operator reads it:
 *
 * <ul>
 *   <li>{@code steps}: every step of every sub-job, in order, each name prefixed with the sub-job's
 *       kind ({@code "BIND_VFIO: bind 0000:18:00.0 to vfio-pci"}); a sub-job that reported no step
 *       gets one ({@code "START_DOMAIN: done"}) so the timeline shows that it ran;</li>
 *   <li>{@code facts}: the facts of every sub-job that ran (a later one overwrites an earlier one's
 *       key), {@value JobResult#COMPLETED_KINDS}, and on failure {@value JobResult#FAILED_KIND};</li>
 *   <li>{@code error}/{@code errorCode}: those of the (first) failing sub-job, unchanged; a teardown
 *       also names every failed sub-job in {@value JobResult#FAILED_KINDS}.</li>
 * </ul>
 *
 * Each sub-job is idempotent, so a sequence delivered twice runs again from its first step and finds
 * the finished ones done. Sub-jobs must be for the sequence's VM and are never sequences themselves.
 */
public final class JobSequence {

    private JobSequence() {
    }

    public static JobResult run(Job sequence, Function<Job, JobResult> runStep) {
        List<JobResult.Step> steps = new ArrayList<>();
        Map<String, String> facts = new LinkedHashMap<>();
        List<String> completed = new ArrayList<>();
        List<String> failed = new ArrayList<>();
        JobResult firstFailure = null;
        boolean carryOn = sequence.kind() == JobKind.TEARDOWN;
        if (sequence.steps().isEmpty()) {
            return invalid(steps, facts, completed, sequence.kind().name(), "a " + sequence.kind() + " without steps");
        }
        for (Job sub : sequence.steps()) {
            if (sub == null || sub.kind() == null || sub.kind().runsSteps()) {
                return invalid(steps, facts, completed, sub == null || sub.kind() == null ? "?" : sub.kind().name(),
                        "a SEQUENCE may only hold plain jobs, not " + (sub == null ? "null" : sub.kind()));
            }
            if (!Objects.equals(sub.vmId(), sequence.vmId())) {
                return invalid(steps, facts, completed, sub.kind().name(), "the SEQUENCE for VM " + sequence.vmId()
                        + " holds a " + sub.kind() + " for VM " + sub.vmId());
            }
            String kind = sub.kind().name();
            long start = System.nanoTime();
            // a handler reports hardware failures as results; an exception (the worker stopping mid-job)
            // ends the whole sequence unreported, and its lease puts it back on offer
            JobResult r = runStep.apply(sub);
            if (r.steps().isEmpty()) {
                steps.add(new JobResult.Step(kind + ": " + (r.success() ? "done" : "failed"), "", null,
                        r.success() ? "" : String.valueOf(r.error()), (System.nanoTime() - start) / 1_000_000,
                        r.success()));
            }
            for (JobResult.Step s : r.steps()) {
                steps.add(new JobResult.Step(kind + ": " + s.name(), s.command(), s.exitCode(), s.output(),
                        s.durationMs(), s.ok()));
            }
            facts.putAll(r.facts());
            if (r.success()) {
                completed.add(kind);
                continue;
            }
            failed.add(kind);
            if (firstFailure == null) {
                firstFailure = r;
            }
            if (!carryOn) {
                break;
            }
        }
        facts.put(JobResult.COMPLETED_KINDS, String.join(",", completed));
        if (firstFailure == null) {
            return new JobResult(true, steps, null, null, facts);
        }
        facts.put(JobResult.FAILED_KIND, failed.get(0)); // after every sub-job's facts: none may overwrite it
        if (carryOn) {
            facts.put(JobResult.FAILED_KINDS, String.join(",", failed));
        }
        return new JobResult(false, steps, firstFailure.error(), firstFailure.errorCode(), facts);
    }

    private static JobResult invalid(List<JobResult.Step> steps, Map<String, String> facts, List<String> completed,
                                     String kind, String error) {
        facts.put(JobResult.FAILED_KIND, kind);
        facts.put(JobResult.COMPLETED_KINDS, String.join(",", completed));
        return new JobResult(false, steps, error, ErrorCodes.INVALID_JOB, facts);
    }
}
