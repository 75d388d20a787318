package io.gpucloud.worker.command;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs one external program with a time limit. Hardware tools hang when a driver is wedged;
 * a stuck discovery would stall the worker's heartbeat, so every call is bounded and the
 * process is killed when it overruns. A program that cannot be started is reported as exit
 * status 127 (what a shell says) rather than thrown, so callers handle "not installed" the same
 * way for the real tool and its simulator.
 */
public final class ExternalCommand {

    private final String program;
    private final Duration timeout;

    public ExternalCommand(String program, Duration timeout) {
        this.program = program;
        this.timeout = timeout;
    }

    public CommandResult run(String... args) {
        List<String> command = new ArrayList<>(args.length + 1);
        command.add(program);
        command.addAll(List.of(args));
        Process process;
        try {
            process = new ProcessBuilder(command).start();
        } catch (IOException e) {
            return new CommandResult(CommandResult.NOT_FOUND, "", e.getMessage());
        }
        try {
            process.getOutputStream().close();
        } catch (IOException ignored) {
            // the tool reads no input; a failed close changes nothing
        }
        CompletableFuture<String> out = drain(process.getInputStream());
        CompletableFuture<String> err = drain(process.getErrorStream());
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                return new CommandResult(CommandResult.TIMED_OUT, "",
                        program + " did not finish within " + timeout.toSeconds() + " s");
            }
            return new CommandResult(process.exitValue(), out.get(5, TimeUnit.SECONDS), err.get(5, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            return new CommandResult(CommandResult.TIMED_OUT, "", program + " interrupted");
        } catch (ExecutionException | TimeoutException e) {
            return new CommandResult(process.exitValue(), "", "could not read output of " + program + ": " + e);
        }
    }

    // One thread per stream: a pooled executor with one worker (two cores) could deadlock a tool
    // that fills its stderr pipe while we still wait for its stdout to end.
    private CompletableFuture<String> drain(InputStream stream) {
        CompletableFuture<String> result = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (stream) {
                ByteArrayOutputStream buffer = new ByteArrayOutputStream();
                stream.transferTo(buffer);
                result.complete(buffer.toString(StandardCharsets.UTF_8));
            } catch (IOException e) {
                result.completeExceptionally(new UncheckedIOException(e));
            }
        }, program + "-output");
        reader.setDaemon(true);
        reader.start();
        return result;
    }
}
