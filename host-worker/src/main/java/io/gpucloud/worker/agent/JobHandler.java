package io.gpucloud.worker.agent;

import io.gpucloud.protocol.job.Job;
import io.gpucloud.protocol.job.JobResult;

/** Runs one job on this host; hardware failures come back as an unsuccessful result, not an exception. */
@FunctionalInterface
public interface JobHandler {
    JobResult handle(Job job);

    /**
     * This handler for plain jobs, with {@link io.gpucloud.protocol.job.JobKind#SEQUENCE} and
     * {@link io.gpucloud.protocol.job.JobKind#TEARDOWN} jobs run
     * through it one sub-job at a time ({@link io.gpucloud.worker.job.JobSequence}); for handlers that
     * only know single steps, such as scripted test hosts. The real
     * {@link io.gpucloud.worker.job.JobExecutor} runs sequences itself.
     */
    static JobHandler runningSequences(JobHandler steps) {
        return job -> job != null && job.kind() != null && job.kind().runsSteps()
                ? io.gpucloud.worker.job.JobSequence.run(job, steps::handle)
                : steps.handle(job);
    }
}
