package io.gpucloud.worker.job;

import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.fabric.Fmpm;
import java.util.ArrayList;
import java.util.List;

/** Passes calls to fmpm and keeps each with its answer and duration, so a job can show them as steps. */
final class RecordingFmpm implements Fmpm {

    record Call(List<String> args, CommandResult result, long durationMs) {
        String command() {
            return "fmpm " + String.join(" ", args);
        }

        String output() {
            return (result.stdout() + "\n" + result.stderr()).strip();
        }
    }

    private final Fmpm delegate;
    private final List<Call> calls = new ArrayList<>();

    RecordingFmpm(Fmpm delegate) {
        this.delegate = delegate;
    }

    @Override
    public CommandResult run(String... args) {
        long start = System.nanoTime();
        CommandResult r = delegate.run(args);
        calls.add(new Call(List.of(args), r, (System.nanoTime() - start) / 1_000_000));
        return r;
    }

    List<Call> calls() {
        return List.copyOf(calls);
    }
}
