package io.gpucloud.worker.nvidiasmi;

import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.command.ExternalCommand;
import java.time.Duration;

/**
 * The {@code nvidia-smi} command line. The real one and {@link SimulatedNvidiaSmi} print the same
 * text and exit codes, so every parser in the worker runs unchanged against both.
 */
@FunctionalInterface
public interface NvidiaSmi {

    CommandResult run(String... args);

    /** The installed {@code nvidia-smi} from PATH; {@code -q} on eight GPUs takes a few seconds, hence the minute. */
    static NvidiaSmi system() {
        return system("nvidia-smi", Duration.ofSeconds(60));
    }

    static NvidiaSmi system(String program, Duration timeout) {
        ExternalCommand command = new ExternalCommand(program, timeout);
        return command::run;
    }
}
