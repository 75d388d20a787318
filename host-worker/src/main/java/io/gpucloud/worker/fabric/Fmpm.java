package io.gpucloud.worker.fabric;

import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.command.ExternalCommand;
import java.time.Duration;

/**
 * NVIDIA's Fabric Manager partition tool ({@code fmpm} from NVIDIA/Fabric-Manager-Client): {@code -l},
 * {@code -a ID}, {@code -d ID}, {@code --set-activated-list 1,2}. The real binary and
 * {@link SimulatedFmpm} answer with the same JSON, messages and exit codes.
 */
@FunctionalInterface
public interface Fmpm {

    CommandResult run(String... args);

    /** {@code fmpm} from PATH. fmpm itself gives Fabric Manager one second to accept the connection. */
    static Fmpm system() {
        return system("fmpm", Duration.ofSeconds(60));
    }

    /** @param program path of the binary (it is often built by hand and installed outside PATH) */
    static Fmpm system(String program, Duration timeout) {
        ExternalCommand command = new ExternalCommand(program, timeout);
        return command::run;
    }
}
