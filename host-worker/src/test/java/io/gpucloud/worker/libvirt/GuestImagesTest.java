package io.gpucloud.worker.libvirt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpucloud.protocol.job.DomainSpec.GuestInit;
import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.command.ExternalCommand;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The guest's disk and seed made with the real tools (Debian: qemu-utils, genisoimage), read back with
 * the tools QEMU and an operator would use; and the simulated host's overlay read by the real qemu-img.
 */
class GuestImagesTest {

    private static final ExternalCommand QEMU_IMG = new ExternalCommand("qemu-img", Duration.ofSeconds(30));
    private static final ExternalCommand ISOINFO = new ExternalCommand("isoinfo", Duration.ofSeconds(30));
    private static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path tmp;

    private final GuestImages tools = GuestImages.tools();

    @Test
    void theOverlayIsBackedByTheSharedImageAndIsNeverMadeTwice() throws Exception {
        Path base = tmp.resolve("images/ubuntu-24.04.qcow2");
        Files.createDirectories(base.getParent());
        run(QEMU_IMG, "create", "-q", "-f", "qcow2", base.toString(), "64M");
        Path overlay = tmp.resolve("disks/vm-1.qcow2");

        assertThat(tools.createOverlay(base, overlay)).isTrue();
        assertThat(mode(overlay)).as("a tenant's disk, on a shared host").isEqualTo("rw-------");
        assertThat(mode(overlay.getParent())).as("QEMU may pass, nobody may list").isEqualTo("rwx--x--x");

        JsonNode info = info(overlay);
        assertThat(info.get("format").asString()).isEqualTo("qcow2");
        assertThat(info.get("backing-filename").asString()).isEqualTo(base.toString());
        assertThat(info.get("backing-filename-format").asString()).isEqualTo("qcow2");
        assertThat(info.get("virtual-size").asLong()).as("the image's size").isEqualTo(64L << 20);

        byte[] before = Files.readAllBytes(overlay);
        Files.write(overlay, new byte[] {1}, java.nio.file.StandardOpenOption.APPEND); // "what the guest wrote"
        assertThat(tools.createOverlay(base, overlay)).as("a define that runs again keeps the disk").isFalse();
        assertThat(Files.size(overlay)).isEqualTo(before.length + 1);
        assertThat(Files.list(overlay.getParent()).map(p -> p.getFileName().toString()))
                .containsExactly("vm-1.qcow2");
    }

    @Test
    void aBootImageMissingOnTheHostFailsWithQemuImgsWordsAndLeavesNothing() {
        Path base = tmp.resolve("images/missing.raw");
        Path overlay = tmp.resolve("disks/vm-2.qcow2");

        assertThatThrownBy(() -> tools.createOverlay(base, overlay))
                .isInstanceOf(GuestImageException.class)
                .hasMessageContaining(base.toString()).hasMessageContaining("No such file or directory")
                .satisfies(e -> {
                    assertThat(((GuestImageException) e).exitCode()).isEqualTo(1);
                    assertThat(((GuestImageException) e).command())
                            .isEqualTo("qemu-img create -f qcow2 -F raw -b " + base + " " + overlay);
                });
        assertThat(overlay).doesNotExist();
        assertThat(overlay.resolveSibling("vm-2.qcow2.partial")).doesNotExist();
    }

    @Test
    void theSeedIsACidataVolumeWithTheFilesUnderTheirOwnNames() throws Exception {
        UUID vm = UUID.randomUUID();
        CloudInitSeed.Files files = CloudInitSeed.render(vm, new GuestInit("train-01",
                "#cloud-config\npackages: [htop]\n", "10.1.0.10", 16, List.of("ssh-ed25519 AAAAC3Nz ana@laptop")),
                CloudInitSeed.macOf(vm), "<system version=\"1\"/>\n");
        assertThat(files.byName()).containsOnlyKeys("meta-data", "user-data", "network-config", "vendor-data");
        // a state directory whose path has a '=' in it: genisoimage splits a graft point at its first '='
        Path iso = tmp.resolve("state=a/domains/" + vm + ".cidata.iso");
        Files.createDirectories(iso.getParent());

        tools.writeSeed(iso, files);

        assertThat(run(ISOINFO, "-d", "-i", iso.toString())).contains("Volume id: cidata");
        assertThat(mode(iso)).as("user data often carries secrets").isEqualTo("rw-------");
        for (var f : files.byName().entrySet()) {
            assertThat(run(ISOINFO, "-J", "-i", iso.toString(), "-x", "/" + f.getKey()))
                    .as(f.getKey()).isEqualTo(f.getValue());
        }
        assertThat(GuestImages.seedFiles(iso)).as("the files' directory is gone").doesNotExist();

        tools.writeSeed(iso, CloudInitSeed.render(vm, new GuestInit("renamed", null, null, 16, List.of()), null, null));
        assertThat(run(ISOINFO, "-J", "-i", iso.toString(), "-x", "/meta-data")).contains("\"renamed\"");

        GuestImages.removeSeed(iso);
        assertThat(iso).doesNotExist();
    }

    @Test
    void theSimulatedOverlayIsAQcow2ImageQemuImgReadsWithItsBackingFile() throws Exception {
        Path base = Path.of("/var/lib/gpucloud/images/ubuntu-24.04.raw"); // a simulated host holds every image
        Path overlay = tmp.resolve("disks/vm-3.qcow2");

        assertThat(new SimulatedGuestImages().createOverlay(base, overlay)).isTrue();
        assertThat(new SimulatedGuestImages().createOverlay(base, overlay)).isFalse();
        assertThat(mode(overlay)).isEqualTo("rw-------");

        JsonNode info = info(overlay);
        assertThat(info.get("format").asString()).isEqualTo("qcow2");
        assertThat(info.get("backing-filename").asString()).isEqualTo(base.toString());
        assertThat(info.get("backing-filename-format").asString()).isEqualTo("raw");

        // on a base this host has, the same size and layout as the real tool's
        Path realBase = tmp.resolve("images/small.qcow2");
        Files.createDirectories(realBase.getParent());
        run(QEMU_IMG, "create", "-q", "-f", "qcow2", realBase.toString(), "1G");
        Path simulated = tmp.resolve("disks/simulated.qcow2");
        Path real = tmp.resolve("disks/real.qcow2");
        new SimulatedGuestImages().createOverlay(realBase, simulated);
        tools.createOverlay(realBase, real);
        assertThat(info(simulated).get("virtual-size").asLong()).isEqualTo(1L << 30);
        assertThat(Files.size(simulated)).isEqualTo(Files.size(real));
        assertThat(run(QEMU_IMG, "check", simulated.toString())).contains("No errors were found");
    }

    @Test
    void theImageDirectoryListsWholeReadableImagesAsTheHostSeesThem() throws Exception {
        Path root = tmp.resolve("host");
        BootImageDirectory images = new BootImageDirectory(root, BootImageDirectory.DEFAULT);
        assertThat(images.list()).as("no directory: no image").isEmpty();

        Path dir = root.resolve("var/lib/gpucloud/images");
        Files.createDirectories(dir.resolve("nvidia"));
        Files.writeString(dir.resolve("ubuntu-24.04.qcow2"), "x");
        Files.writeString(dir.resolve("nvidia/driver-570.raw"), "x");
        Files.writeString(dir.resolve(".debian-12.qcow2"), "x"); // being copied, by the convention
        Files.writeString(dir.resolve("debian-12.qcow2.partial"), "x");
        Files.writeString(dir.resolve("rocky-9.qcow2.tmp"), "x");
        Files.createSymbolicLink(dir.resolve("default.qcow2"), dir.resolve("ubuntu-24.04.qcow2"));
        Files.createSymbolicLink(dir.resolve("dangling.qcow2"), dir.resolve("gone.qcow2"));

        assertThat(images.list()).containsExactly("/var/lib/gpucloud/images/default.qcow2",
                "/var/lib/gpucloud/images/nvidia/driver-570.raw", "/var/lib/gpucloud/images/ubuntu-24.04.qcow2");
        assertThat(images.holds(Path.of("/var/lib/gpucloud/images/ubuntu-24.04.qcow2"))).isTrue();
        assertThat(images.holds(Path.of("/var/lib/gpucloud/images/debian-12.qcow2.partial"))).isFalse();
        assertThat(images.holds(Path.of("/var/lib/gpucloud/images/gone.qcow2"))).isFalse();
        assertThat(images.holds(Path.of("/var/lib/gpucloud/images/../images/ubuntu-24.04.qcow2"))).isTrue();
        assertThat(images.holds(Path.of("/etc/passwd"))).as("outside the directory").isFalse();
    }

    @Test
    void aDirectoryThatCannotBeListedSaysNothingInsteadOfNone() throws Exception {
        Path root = tmp.resolve("looped");
        Path dir = root.resolve("var/lib/gpucloud/images");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("ubuntu-24.04.qcow2"), "x");
        Files.createSymbolicLink(dir.resolve("again"), dir); // a loop: the walk cannot finish
        BootImageDirectory images = new BootImageDirectory(root, BootImageDirectory.DEFAULT);
        assertThatThrownBy(images::list).isInstanceOf(java.io.IOException.class);
        // null keeps the host's last report, where an empty list would say it holds no image at all
        assertThat(GuestImages.tools(images).bootImages()).isNull();
    }

    @Test
    void aSimulatedHostHoldsWhatWasPutThereAndFailsOnTheRestAsQemuImgDoes() throws Exception {
        Path root = tmp.resolve("sim");
        BootImageDirectory dir = new BootImageDirectory(root, BootImageDirectory.DEFAULT);
        SimulatedGuestImages sim = new SimulatedGuestImages(dir);
        Path missing = Path.of("/var/lib/gpucloud/images/debian-12.qcow2");
        assertThat(sim.bootImages()).as("nothing put there yet: every image, unreported").isNull();
        assertThat(sim.createOverlay(missing, tmp.resolve("disks/any.qcow2"))).isTrue();

        Path held = root.resolve("var/lib/gpucloud/images/ubuntu-24.04.qcow2");
        Files.createDirectories(held.getParent());
        Files.write(held, SimulatedGuestImages.emptyQcow2(2L << 30));
        assertThat(run(QEMU_IMG, "check", held.toString())).contains("No errors were found");
        assertThat(info(held).get("virtual-size").asLong()).isEqualTo(2L << 30);
        assertThat(sim.bootImages()).containsExactly("/var/lib/gpucloud/images/ubuntu-24.04.qcow2");

        Path overlay = tmp.resolve("disks/vm-4.qcow2");
        assertThat(sim.createOverlay(Path.of("/var/lib/gpucloud/images/ubuntu-24.04.qcow2"), overlay)).isTrue();
        assertThat(info(overlay).get("virtual-size").asLong()).as("the held image's size").isEqualTo(2L << 30);

        // the real tool and the simulator, on a base neither host has: the same exit code and words
        Path realOverlay = tmp.resolve("real/vm-5.qcow2");
        Path simOverlay = tmp.resolve("real/vm-5.qcow2"); // same name: the message names it
        GuestImageException real = org.assertj.core.api.Assertions.catchThrowableOfType(GuestImageException.class,
                () -> tools.createOverlay(missing, realOverlay));
        GuestImageException simulated = org.assertj.core.api.Assertions.catchThrowableOfType(GuestImageException.class,
                () -> sim.createOverlay(missing, simOverlay));
        assertThat(real).isNotNull();
        assertThat(simulated).isNotNull();
        assertThat(simulated.getMessage()).isEqualTo(real.getMessage());
        assertThat(simulated.exitCode()).isEqualTo(real.exitCode()).isEqualTo(1);
        assertThat(simOverlay).doesNotExist();
    }

    private static String mode(Path p) throws java.io.IOException {
        return java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    private static JsonNode info(Path image) {
        // -U: read without taking the image lock, as an operator would look at a running VM's disk
        return JSON.readTree(run(QEMU_IMG, "info", "-U", "--output=json", image.toString()));
    }

    private static String run(ExternalCommand tool, String... args) {
        CommandResult r = tool.run(args);
        assertThat(r.exitCode()).as("%s %s must be installed (Debian: qemu-utils, genisoimage) and succeed: %s",
                tool, String.join(" ", args), r.stderr()).isZero();
        return r.stdout();
    }
}
