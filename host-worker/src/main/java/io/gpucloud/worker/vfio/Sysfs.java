package io.gpucloud.worker.vfio;

import java.util.List;
import java.util.Optional;

/**
 * The sysfs operations driver binding needs. Paths are written as on the host ({@code /sys/bus/pci/...}),
 * whatever directory stands in for "/", so they double as the command an operator would type.
 */
public interface Sysfs {

    /** Writes {@code value} in one write(2), like {@code echo -n value > path}. */
    void write(String path, String value) throws SysfsWriteException;

    /** Content with surrounding whitespace removed; empty when the file does not exist or cannot be read. */
    Optional<String> read(String path);

    /** Target of a symlink as stored; empty when it is no link or does not exist. */
    Optional<String> readLink(String path);

    /** Entry names of a directory; empty when it does not exist. */
    List<String> list(String path);

    boolean exists(String path);

    /** The real kernel's sysfs. */
    static Sysfs linux() {
        return new LinuxSysfs(java.nio.file.Path.of("/"));
    }
}
