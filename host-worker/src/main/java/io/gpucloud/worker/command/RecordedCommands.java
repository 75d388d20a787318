package io.gpucloud.worker.command;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What {@code host-worker/tools/capture-host.sh} recorded of a host's tools: {@code NAME.out},
 * {@code NAME.err} and {@code NAME.rc} in its {@code commands/} folder. Discovery run on a capture
 * answers nvidia-smi and fmpm from here, as the captured host answered them, so a host that confused
 * discovery can be replayed anywhere.
 */
public final class RecordedCommands {

    /** The calls discovery makes, as the capture tool names their recordings. */
    private static final Map<String, Map<List<String>, String>> RECORDED = Map.of(
            "nvidia-smi", Map.of(List.of("-q"), "nvidia-smi-q"),
            "fmpm", Map.of(List.of("-l"), "fmpm-l"));

    private final Path dir;

    private RecordedCommands(Path dir) {
        this.dir = dir;
    }

    /** The recordings of a capture whose root is {@code root}; empty when it holds none. */
    public static Optional<RecordedCommands> of(Path root) {
        Path dir = root.resolve("commands");
        return Files.isRegularFile(dir.resolve("nvidia-smi-q.rc")) ? Optional.of(new RecordedCommands(dir))
                : Optional.empty();
    }

    /**
     * {@code program args} as recorded. A call the capture did not record answers exit 127, as a tool
     * that is not installed would: discovery then reports what it could not learn instead of guessing.
     */
    public CommandResult run(String program, String... args) {
        String name = RECORDED.getOrDefault(program, Map.of()).get(List.of(args));
        if (name == null || !Files.isRegularFile(dir.resolve(name + ".rc"))) {
            return new CommandResult(CommandResult.NOT_FOUND, "",
                    program + " " + String.join(" ", args) + ": not recorded in the capture " + dir);
        }
        try {
            return new CommandResult(Integer.parseInt(Files.readString(dir.resolve(name + ".rc")).strip()),
                    Files.readString(dir.resolve(name + ".out")), Files.readString(dir.resolve(name + ".err")));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the recording " + name + " in " + dir, e);
        }
    }
}
