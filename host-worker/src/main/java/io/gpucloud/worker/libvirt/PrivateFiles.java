package io.gpucloud.worker.libvirt;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A guest's disk and its seed (user data often carries secrets) on a host other users may log in to:
 * readable by their owner only. libvirt hands each file to QEMU's user when the domain starts, so
 * their directories let others through (x) but not list them.
 */
final class PrivateFiles {

    private PrivateFiles() {
    }

    /** Creates {@code dir} if needed; others may pass through it to a file they were given, not list it. */
    static void passThroughDirectory(Path dir) throws IOException {
        Files.createDirectories(dir);
        setMode(dir, "rwx--x--x");
    }

    /** Creates {@code dir} if needed, for its owner alone. */
    static void ownerOnlyDirectory(Path dir) throws IOException {
        Files.createDirectories(dir);
        setMode(dir, "rwx------");
    }

    /** Writes {@code bytes} to a file only its owner may read. */
    static void write(Path file, byte[] bytes) throws IOException {
        Files.deleteIfExists(file);
        Files.createFile(file);
        ownerOnly(file);
        Files.write(file, bytes);
    }

    static void ownerOnly(Path file) throws IOException {
        setMode(file, "rw-------");
    }

    private static void setMode(Path p, String mode) throws IOException {
        try {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system (a developer's laptop): nothing to restrict
        }
    }
}
