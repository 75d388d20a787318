package io.gpucloud.worker.libvirt;

import io.gpucloud.worker.FileTrees;
import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.command.ExternalCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link GuestImages} through {@code qemu-img} and {@code genisoimage}. Both write to a temporary name
 * first and then rename, so a worker that dies halfway never leaves a half-made overlay that the next
 * define would keep as the VM's disk.
 */
final class ToolGuestImages implements GuestImages {

    private final ExternalCommand qemuImg;
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ToolGuestImages.class);

    private final ExternalCommand genisoimage;
    private final BootImageDirectory images;

    ToolGuestImages(ExternalCommand qemuImg, ExternalCommand genisoimage, BootImageDirectory images) {
        this.qemuImg = qemuImg;
        this.genisoimage = genisoimage;
        this.images = images;
    }

    // the last listing error logged: a directory that stays unreadable is logged once, not every heartbeat
    private volatile String lastError;

    @Override
    public List<String> bootImages() {
        try {
            List<String> held = images.list();
            if (lastError != null) {
                log.info("The boot images in {} can be listed again: {} images", images.dir(), held.size());
                lastError = null;
            }
            return held;
        } catch (IOException e) {
            if (!e.toString().equals(lastError)) {
                log.warn("Cannot list the boot images in {}: {}; heartbeats say nothing about them until it can",
                        images.dir(), e.toString());
                lastError = e.toString();
            }
            return null;
        }
    }

    @Override
    public boolean createOverlay(Path base, Path overlay) throws GuestImageException {
        if (Files.exists(overlay)) {
            return false;
        }
        String command = GuestImages.overlayCommand(base, overlay);
        Path partial = overlay.resolveSibling(overlay.getFileName() + ".partial");
        try {
            PrivateFiles.passThroughDirectory(overlay.getParent());
            Files.deleteIfExists(partial);
        } catch (IOException e) {
            throw new GuestImageException("cannot prepare " + overlay + ": " + e, command, 1);
        }
        // qemu-img checks that the base exists and reads its size: a missing image fails here, clearly
        CommandResult r = qemuImg.run("create", "-q", "-f", "qcow2", "-F", GuestImages.format(base), "-b",
                base.toString(), partial.toString());
        if (!r.ok()) {
            deleteQuietly(partial);
            throw new GuestImageException(r.message(), command, r.exitCode());
        }
        restrict(partial, command);
        move(partial, overlay, command);
        return true;
    }

    @Override
    public void writeSeed(Path iso, CloudInitSeed.Files files) throws GuestImageException {
        String command = GuestImages.seedCommand(iso);
        Path dir = GuestImages.seedFiles(iso);
        Path partial = iso.resolveSibling(iso.getFileName() + ".partial");
        List<String> args = new ArrayList<>(List.of("-quiet", "-output", partial.toString(), "-volid", "cidata",
                "-joliet", "-rock", "-graft-points"));
        try {
            GuestImages.writeSeedFiles(iso, files).forEach((name, file) -> args.add(name + "=" + file));
        } catch (IOException e) {
            throw new GuestImageException("cannot write the seed's files to " + dir + ": " + e, command, 1);
        }
        try {
            CommandResult r = genisoimage.run(args.toArray(String[]::new));
            if (!r.ok()) {
                deleteQuietly(partial);
                throw new GuestImageException(r.message(), command, r.exitCode());
            }
            restrict(partial, command);
            move(partial, iso, command);
        } finally {
            try {
                FileTrees.deleteTree(dir);
            } catch (IOException ignored) {
                // left for the next attempt or the undefine to remove
            }
        }
    }

    private static void restrict(Path file, String command) throws GuestImageException {
        try {
            PrivateFiles.ownerOnly(file);
        } catch (IOException e) {
            deleteQuietly(file);
            throw new GuestImageException("cannot make " + file + " private: " + e, command, 1);
        }
    }

    private static void move(Path from, Path to, String command) throws GuestImageException {
        try {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteQuietly(from);
            throw new GuestImageException("cannot move " + from + " to " + to + ": " + e, command, 1);
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a leftover temporary name is replaced by the next attempt
        }
    }
}
