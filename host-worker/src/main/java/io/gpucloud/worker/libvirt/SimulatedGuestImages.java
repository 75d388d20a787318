package io.gpucloud.worker.libvirt;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@link GuestImages} of a simulated host. Without a {@link BootImageDirectory} it holds every image (their
 * paths need not exist here) and reports none; with one, it holds the files there, as a real host does,
 * and a missing base fails the way {@code qemu-img} fails. The overlay is an empty qcow2 image laid out
 * as {@code qemu-img create} lays it out, so that qemu-img reads it. The seed is kept as its files in
 * {@code <iso>.d}, the directory the real tool is given, instead of a volume made of them.
 */
public final class SimulatedGuestImages implements GuestImages {

    private static final int QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
    private static final int CLUSTER_BITS = 16;
    private static final int CLUSTER = 1 << CLUSTER_BITS;
    private static final int HEADER_LENGTH = 112; // version 3 with the compression type, as QEMU 7 writes it
    private static final int BACKING_FORMAT_EXTENSION = 0xe2792aca;
    private static final long BYTES_PER_L1_ENTRY = (long) CLUSTER * (CLUSTER / 8); // one L2 table: 512 MiB

    private final BootImageDirectory images;

    /** A host that holds every boot image and does not report them. */
    public SimulatedGuestImages() {
        this(null);
    }

    /**
     * A host that holds the images in {@code images}; while that directory does not exist (or for null),
     * every image, unreported.
     */
    public SimulatedGuestImages(BootImageDirectory images) {
        this.images = images;
    }

    private boolean holdsEveryImage() {
        return images == null || !Files.isDirectory(images.local(images.dir()));
    }

    @Override
    public List<String> bootImages() {
        if (holdsEveryImage()) {
            return null;
        }
        try {
            return images.list();
        } catch (IOException e) {
            return null;
        }
    }

    @Override
    public boolean createOverlay(Path base, Path overlay) throws GuestImageException {
        if (Files.exists(overlay)) {
            return false;
        }
        boolean everyImage = holdsEveryImage();
        if (!everyImage && !images.holds(base)) {
            // qemu-img's words (QEMU 7.2) for a backing file that is not there, on the real tool's partial name
            throw new GuestImageException("qemu-img: " + overlay + ".partial: Could not open '" + base
                    + "': No such file or directory", GuestImages.overlayCommand(base, overlay), 1);
        }
        try {
            PrivateFiles.passThroughDirectory(overlay.getParent());
            PrivateFiles.write(overlay, qcow2(base, virtualSize(everyImage ? base : images.local(base))));
        } catch (IOException e) {
            throw new GuestImageException("cannot write " + overlay + ": " + e, GuestImages.overlayCommand(base, overlay), 1);
        }
        return true;
    }

    /**
     * An empty qcow2 image laid out as {@code qemu-img create -f qcow2 -F FMT -b BASE} lays it out: the
     * header with the backing file's format and name in cluster 0, the refcount table in cluster 1, its
     * one refcount block in cluster 2, and (for a base of non-zero size) the L1 table in cluster 3. Without
     * a base: the same, less the backing file.
     */
    private static byte[] qcow2(Path base, long virtualSize) {
        byte[] backing = base == null ? new byte[0] : base.toString().getBytes(StandardCharsets.UTF_8);
        byte[] format = base == null ? new byte[0] : GuestImages.format(base).getBytes(StandardCharsets.UTF_8);
        int l1Entries = (int) ((virtualSize + BYTES_PER_L1_ENTRY - 1) / BYTES_PER_L1_ENTRY);
        int clusters = l1Entries > 0 ? 4 : 3;
        int backingOffset = base == null ? 0 : HEADER_LENGTH + 8 + ((format.length + 7) & ~7) + 8;
        ByteBuffer image = ByteBuffer.allocate(3 * CLUSTER + l1Entries * 8);
        image.putInt(QCOW2_MAGIC).putInt(3);
        image.putLong(backingOffset).putInt(backing.length);
        image.putInt(CLUSTER_BITS).putLong(virtualSize);
        image.putInt(0); // no encryption
        image.putInt(l1Entries).putLong(l1Entries > 0 ? 3L * CLUSTER : 0);
        image.putLong(CLUSTER).putInt(1); // refcount table: cluster 1, one cluster long
        image.putInt(0).putLong(0); // no snapshots
        image.putLong(0).putLong(0).putLong(0); // incompatible, compatible, autoclear features
        image.putInt(4).putInt(HEADER_LENGTH); // 16-bit refcounts; header length
        image.put((byte) 0).position(HEADER_LENGTH); // compression type zlib, padding
        if (base != null) {
            image.putInt(BACKING_FORMAT_EXTENSION).putInt(format.length).put(format);
            image.position(backingOffset - 8);
        }
        image.putInt(0).putInt(0); // end of extensions
        image.put(backing);
        image.putLong(CLUSTER, 2L * CLUSTER); // the refcount table's one entry: the block in cluster 2
        for (int c = 0; c < clusters; c++) {
            image.putShort(2 * CLUSTER + 2 * c, (short) 1); // every cluster in use is referenced once
        }
        return image.array();
    }

    /** The base's size where this host has the file (raw: its length; qcow2: its header's), else 0. */
    private static long virtualSize(Path base) {
        try {
            if (!Files.isRegularFile(base)) {
                return 0;
            }
            if (!"qcow2".equals(GuestImages.format(base))) {
                return Files.size(base);
            }
            try (var in = Files.newInputStream(base)) {
                ByteBuffer header = ByteBuffer.wrap(in.readNBytes(32));
                return header.remaining() == 32 && header.getInt(0) == QCOW2_MAGIC ? header.getLong(24) : 0;
            }
        } catch (IOException e) {
            return 0;
        }
    }

    /** An empty qcow2 image of this size without a backing file, as {@code qemu-img create -f qcow2} makes it. */
    public static byte[] emptyQcow2(long virtualSize) {
        return qcow2(null, virtualSize);
    }

    @Override
    public void writeSeed(Path iso, CloudInitSeed.Files files) throws GuestImageException {
        try {
            GuestImages.writeSeedFiles(iso, files);
        } catch (IOException e) {
            throw new GuestImageException("cannot write the seed's files to " + GuestImages.seedFiles(iso) + ": " + e,
                    GuestImages.seedCommand(iso), 1);
        }
    }
}
