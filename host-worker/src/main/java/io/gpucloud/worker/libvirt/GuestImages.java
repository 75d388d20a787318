package io.gpucloud.worker.libvirt;

import io.gpucloud.worker.FileTrees;
import io.gpucloud.worker.command.ExternalCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The guest's images on the host: its own copy-on-write overlay of the shared boot image (so no VM
 * ever writes to the image others boot from), and its cloud-init seed.
 */
public interface GuestImages {

    /**
     * Creates {@code overlay} (qcow2) on top of {@code base} unless it exists: it is the VM's disk, so a
     * define that runs again (a retried job, a restore after a host reboot) keeps what the guest wrote.
     *
     * @return true if it was created now
     */
    boolean createOverlay(Path base, Path overlay) throws GuestImageException;

    /** Writes the seed volume (label {@code cidata}) with these files, replacing an older one. */
    void writeSeed(Path iso, CloudInitSeed.Files files) throws GuestImageException;

    /**
     * The boot images this host holds (absolute paths, sorted), which the worker reports with each
     * heartbeat; null when it cannot tell, which leaves the last report in force.
     */
    List<String> bootImages();

    /** The command line {@link #createOverlay} runs, for the job's step log. */
    static String overlayCommand(Path base, Path overlay) {
        return "qemu-img create -f qcow2 -F " + format(base) + " -b " + base + " " + overlay;
    }

    /** The command line {@link #writeSeed} runs, for the job's step log. */
    static String seedCommand(Path iso) {
        return "genisoimage -output " + iso + " -volid cidata -joliet -rock user-data meta-data [network-config]";
    }

    /**
     * Removes a seed volume and the directory of its files beside it ({@code <iso>.d}: a simulated host's
     * seed, or what a worker that died while making one left behind).
     */
    static void removeSeed(Path iso) throws IOException {
        Files.deleteIfExists(iso);
        FileTrees.deleteTree(seedFiles(iso));
    }

    /**
     * Writes the seed's files, owner-only, into {@link #seedFiles} (replacing what was there) and
     * returns each file's path by its name on the volume.
     */
    static Map<String, Path> writeSeedFiles(Path iso, CloudInitSeed.Files files) throws IOException {
        Path dir = seedFiles(iso);
        FileTrees.deleteTree(dir);
        PrivateFiles.passThroughDirectory(iso.getParent());
        PrivateFiles.ownerOnlyDirectory(dir);
        Map<String, Path> written = new LinkedHashMap<>();
        for (Map.Entry<String, byte[]> f : files.bytes().entrySet()) {
            Path file = dir.resolve(f.getKey());
            PrivateFiles.write(file, f.getValue());
            written.put(f.getKey(), file);
        }
        return written;
    }

    /** Where the seed's files are put before they become the volume. */
    static Path seedFiles(Path iso) {
        return iso.resolveSibling(iso.getFileName() + ".d");
    }

    /** A boot image's format, by its name: the rule the domain's disk driver follows too. */
    static String format(Path image) {
        return image.getFileName().toString().endsWith(".qcow2") ? "qcow2" : "raw";
    }

    /**
     * This server's {@code qemu-img} and {@code genisoimage} (Debian: qemu-utils, genisoimage), with its
     * boot images in {@link BootImageDirectory#DEFAULT}.
     */
    static GuestImages tools() {
        return tools(BootImageDirectory.of(BootImageDirectory.DEFAULT));
    }

    /** As {@link #tools()}, with the boot images in {@code images}. */
    static GuestImages tools(BootImageDirectory images) {
        return new ToolGuestImages(new ExternalCommand("qemu-img", Duration.ofSeconds(120)),
                new ExternalCommand("genisoimage", Duration.ofSeconds(60)), images);
    }
}
