package io.gpucloud.worker.agent;

import io.gpucloud.protocol.job.Job;
import io.gpucloud.protocol.job.JobResult;

/** Runs one job on this host; hardware failures come back as an unsuccessful result, not an exception. */
@FunctionalInterface
public interface JobHandler {
    JobResult handle(Job job);
}
