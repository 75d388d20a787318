package io.gpucloud.protocol.job;

import java.util.List;
import java.util.Map;

/**
 * What the worker reports for a job: success, or the failing step with enough detail (command,
 * exit code, stderr excerpt) for an operator to see what happened.
 *
 * @param success  whether the job's goal state holds now
 * @param steps    every step taken, in order
 * @param error    a sentence for humans when it failed
 * @param errorCode stable code when it failed: "device-busy", "partition-conflict", "libvirt-error", ...
 * @param facts    observations for the control plane (e.g. "domainState": "running")
 */
public record JobResult(boolean success, List<Step> steps, String error, String errorCode, Map<String, String> facts) {

    /** Fact of a {@link JobKind#SEQUENCE} result: the kind of the sub-job that failed. */
    public static final String FAILED_KIND = "failedKind";
    /** Fact of a {@link JobKind#TEARDOWN} result: the kinds of the sub-jobs that failed, comma-separated. */
    public static final String FAILED_KINDS = "failedKinds";
    /** Fact of a {@link JobKind#SEQUENCE} result: the kinds of the sub-jobs that succeeded, comma-separated. */
    public static final String COMPLETED_KINDS = "completedKinds";

    public JobResult {
        steps = steps == null ? List.of() : List.copyOf(steps);
        facts = facts == null ? Map.of() : Map.copyOf(facts);
    }

    /**
     * @param name         what was done ("bind 0000:18:00.0 to vfio-pci")
     * @param command      command or sysfs write, as an operator would type it
     * @param exitCode     exit code for commands, null for sysfs/libvirt calls
     * @param output       excerpt of stdout/stderr (at most a few hundred characters)
     * @param durationMs   how long it took
     * @param ok           whether it succeeded (or was already done)
     */
    public record Step(String name, String command, Integer exitCode, String output, long durationMs, boolean ok) {
    }
}
