package io.gpucloud.worker.action;

import io.gpucloud.protocol.job.JobResult;
import java.util.ArrayList;
import java.util.List;

/**
 * The steps one job took, in order, each with the command an operator would type to do the same by
 * hand. Not thread-safe: one log per job execution.
 */
public final class StepLog {

    /** Longest output excerpt kept per step. */
    public static final int MAX_OUTPUT = 400;

    private final List<JobResult.Step> steps = new ArrayList<>();

    /** A running stopwatch for one step; {@link #ok} or {@link #failed} records it. */
    public final class Timer {
        private final long start = System.nanoTime();
        private final String name;
        private final String command;

        private Timer(String name, String command) {
            this.name = name;
            this.command = command;
        }

        public JobResult.Step ok(Integer exitCode, String output) {
            return add(name, command, exitCode, output, true);
        }

        public JobResult.Step ok() {
            return ok(null, "");
        }

        public JobResult.Step failed(Integer exitCode, String output) {
            return add(name, command, exitCode, output, false);
        }

        /** Records the step under another name (e.g. "already active" once the outcome is known). */
        public JobResult.Step done(String finalName, Integer exitCode, String output, boolean ok) {
            return add(finalName, command, exitCode, output, ok);
        }

        private JobResult.Step add(String n, String c, Integer exitCode, String output, boolean ok) {
            long ms = (System.nanoTime() - start) / 1_000_000;
            JobResult.Step step = new JobResult.Step(n, c, exitCode, excerpt(output), ms, ok);
            steps.add(step);
            return step;
        }
    }

    /** Starts timing a step; nothing is recorded until the timer is finished. */
    public Timer start(String name, String command) {
        return new Timer(name, command);
    }

    /** Records a step that took no time worth measuring (a check that found the goal already reached). */
    public JobResult.Step note(String name, String command, String output, boolean ok) {
        return start(name, command).done(name, null, output, ok);
    }

    public List<JobResult.Step> steps() {
        return List.copyOf(steps);
    }

    public boolean isEmpty() {
        return steps.isEmpty();
    }

    /** At most {@link #MAX_OUTPUT} characters, trailing blank lines removed. */
    public static String excerpt(String text) {
        if (text == null) {
            return "";
        }
        String t = text.strip();
        return t.length() <= MAX_OUTPUT ? t : t.substring(0, MAX_OUTPUT - 3) + "...";
    }
}
