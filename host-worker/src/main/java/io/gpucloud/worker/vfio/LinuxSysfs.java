package io.gpucloud.worker.vfio;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * sysfs as files below a root ("/" on a server). Writes open the existing attribute without creating it
 * (a missing attribute is ENOENT, as for the shell) and hand the whole value to one write(2), which is
 * what sysfs store functions expect; the kernel's refusal comes back as the IOException's strerror text.
 */
public class LinuxSysfs implements Sysfs {

    private final Path root;

    public LinuxSysfs(Path root) {
        this.root = root;
    }

    public Path root() {
        return root;
    }

    /** The file behind a host path: {@code /sys/x} is {@code root/sys/x}. */
    public Path resolve(String path) {
        String relative = path.startsWith("/") ? path.substring(1) : path;
        return root.resolve(relative);
    }

    @Override
    public void write(String path, String value) throws SysfsWriteException {
        try {
            Files.write(resolve(path), value.getBytes(StandardCharsets.US_ASCII), StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING);
        } catch (NoSuchFileException e) {
            throw new SysfsWriteException(path, value, Errno.ENOENT);
        } catch (AccessDeniedException e) {
            throw new SysfsWriteException(path, value, Errno.EACCES);
        } catch (IOException e) {
            Errno errno = Errno.fromMessage(e.getMessage());
            throw new SysfsWriteException(path, value, errno,
                    errno == Errno.UNKNOWN ? String.valueOf(e.getMessage()) : errno.text());
        }
    }

    @Override
    public Optional<String> read(String path) {
        try {
            return Optional.of(new String(Files.readAllBytes(resolve(path)), StandardCharsets.US_ASCII).strip());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    @Override
    public Optional<String> readLink(String path) {
        try {
            return Optional.of(Files.readSymbolicLink(resolve(path)).toString());
        } catch (IOException | UnsupportedOperationException e) {
            return Optional.empty();
        }
    }

    @Override
    public List<String> list(String path) {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(resolve(path))) {
            for (Path p : entries) {
                names.add(p.getFileName().toString());
            }
        } catch (IOException e) {
            return List.of();
        }
        names.sort(null);
        return names;
    }

    @Override
    public boolean exists(String path) {
        return Files.exists(resolve(path));
    }
}
