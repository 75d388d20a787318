package io.gpucloud.worker.libvirt;

import java.io.IOException;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The directory where an operator keeps the boot images VMs' disks are made from
 * ({@code /var/lib/gpucloud/images} by default: the catalog's {@code diskPath}s lie there). The worker
 * reports what it holds with every heartbeat, and placement sends a VM only to hosts holding its image.
 *
 * <p>An image counts once it is a readable regular file (or a link to one) whose name does not start with
 * a dot and does not end in {@code .partial} or {@code .tmp}: copy a new image under such a name and
 * rename it when complete, so that no VM is ever made from half an image.
 *
 * @param hostRoot where the host's file system starts ({@code /}, or a simulated host's root)
 * @param dir      the images directory, as the host sees it (absolute)
 */
public record BootImageDirectory(Path hostRoot, Path dir) {

    public static final Path DEFAULT = Path.of("/var/lib/gpucloud/images");

    private static final int MAX_DEPTH = 4;

    public BootImageDirectory {
        if (!dir.isAbsolute()) {
            throw new IllegalArgumentException("the boot image directory must be an absolute path: " + dir);
        }
    }

    /** This server's directory. */
    public static BootImageDirectory of(Path dir) {
        return new BootImageDirectory(Path.of("/"), dir);
    }

    /**
     * The images held, as absolute paths on the host, sorted; empty when the directory does not exist.
     *
     * @throws IOException when the directory exists but cannot be read (the host cannot tell what it holds)
     */
    public List<String> list() throws IOException {
        Path local = local(dir);
        if (!Files.isDirectory(local)) {
            return List.of();
        }
        try (Stream<Path> files = Files.walk(local, MAX_DEPTH, FileVisitOption.FOLLOW_LINKS)) {
            return files.filter(BootImageDirectory::isImage)
                    .map(p -> "/" + hostRootLocal().relativize(p).toString().replace('\\', '/'))
                    .sorted().toList();
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /** True if {@code image} (a path on the host) is an image this directory holds. */
    public boolean holds(Path image) {
        Path local = local(image);
        return image.isAbsolute() && image.normalize().startsWith(dir) && isImage(local);
    }

    /** The file behind a host path, where this process can read it. */
    public Path local(Path hostPath) {
        return hostRootLocal().resolve(hostPath.toString().substring(1));
    }

    private Path hostRootLocal() {
        return hostRoot.toAbsolutePath();
    }

    private static boolean isImage(Path p) {
        String name = p.getFileName().toString();
        return !name.startsWith(".") && !name.endsWith(".partial") && !name.endsWith(".tmp")
                && Files.isRegularFile(p) && Files.isReadable(p);
    }
}
