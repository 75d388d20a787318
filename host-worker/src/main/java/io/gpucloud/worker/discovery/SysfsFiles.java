package io.gpucloud.worker.discovery;

import io.gpucloud.protocol.DiscoveryProblem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads sysfs/procfs below a root, turning every failure into a {@link DiscoveryProblem} so one
 * broken file costs one field, not the whole discovery.
 */
final class SysfsFiles {

    private final Path root;
    private final List<DiscoveryProblem> problems;

    SysfsFiles(Path root, List<DiscoveryProblem> problems) {
        this.root = root;
        this.problems = problems;
    }

    Path path(String relative) {
        return root.resolve(relative);
    }

    /** Trimmed content; a missing file is silently empty, an unreadable one is reported. */
    Optional<String> read(Path file) {
        try {
            return Optional.of(new String(Files.readAllBytes(file), StandardCharsets.US_ASCII).strip());
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            warn("sysfs-unreadable", file, "could not read " + rel(file) + ": " + e.getMessage());
            return Optional.empty();
        }
    }

    /** Like {@link #read(Path)} but a missing file is reported too: the kernel always provides it. */
    Optional<String> readRequired(Path file) {
        Optional<String> s = read(file);
        if (s.isEmpty() && !Files.exists(file)) {
            warn("sysfs-unreadable", file, rel(file) + " is missing");
        }
        return s;
    }

    Optional<Integer> readInt(Path file) {
        return read(file).flatMap(s -> {
            try {
                return Optional.of(Integer.parseInt(s));
            } catch (NumberFormatException e) {
                garbled(file, s);
                return Optional.empty();
            }
        });
    }

    Optional<List<Integer>> readCpuList(Path file) {
        return read(file).flatMap(s -> {
            try {
                return Optional.of(CpuList.parse(s));
            } catch (IllegalArgumentException e) {
                garbled(file, s);
                return Optional.empty();
            }
        });
    }

    /** File name of a symlink's target ("nvidia" for {@code driver -> ../../bus/pci/drivers/nvidia}). */
    Optional<String> linkName(Path link) {
        try {
            Path target = Files.readSymbolicLink(link);
            Path name = target.getFileName();
            return Optional.ofNullable(name).map(Path::toString);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | UnsupportedOperationException e) {
            warn("sysfs-unreadable", link, "could not read link " + rel(link) + ": " + e.getMessage());
            return Optional.empty();
        }
    }

    /** Where a symlink points, resolved against its directory; the path itself when it is no link. */
    Path resolveLink(Path link) {
        try {
            return link.getParent().resolve(Files.readSymbolicLink(link)).normalize();
        } catch (IOException | UnsupportedOperationException e) {
            try {
                return link.toRealPath();
            } catch (IOException e2) {
                return link;
            }
        }
    }

    /** Entry names of a directory, empty when it does not exist. */
    List<String> list(Path dir) {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                names.add(p.getFileName().toString());
            }
        } catch (NoSuchFileException | NotDirectoryException e) {
            return List.of();
        } catch (IOException e) {
            warn("sysfs-unreadable", dir, "could not list " + rel(dir) + ": " + e.getMessage());
        }
        return names;
    }

    void garbled(Path file, String content) {
        String shown = content.length() > 40 ? content.substring(0, 40) + "..." : content;
        warn("sysfs-garbled", file, rel(file) + " holds \"" + shown + "\"; ignored");
    }

    void warn(String code, Path subject, String message) {
        problems.add(DiscoveryProblem.warning(code, "/" + rel(subject), message));
    }

    String rel(Path p) {
        return p.startsWith(root) ? root.relativize(p).toString() : p.toString();
    }
}
