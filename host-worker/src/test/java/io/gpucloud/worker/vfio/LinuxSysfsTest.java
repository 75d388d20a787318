package io.gpucloud.worker.vfio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LinuxSysfsTest {

    @TempDir
    Path root;

    @Test
    void writesReplaceExistingAttributesAndNeverCreateNewOnes() throws Exception {
        Path dir = Files.createDirectories(root.resolve("sys/bus/pci/devices/0000:18:00.0"));
        Files.writeString(dir.resolve("driver_override"), "(null)\n");
        LinuxSysfs sysfs = new LinuxSysfs(root);

        sysfs.write("/sys/bus/pci/devices/0000:18:00.0/driver_override", "vfio-pci");
        assertThat(sysfs.read("/sys/bus/pci/devices/0000:18:00.0/driver_override")).contains("vfio-pci");

        assertThatThrownBy(() -> sysfs.write("/sys/bus/pci/devices/0000:18:00.0/reset", "1"))
                .isInstanceOfSatisfying(SysfsWriteException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Errno.ENOENT);
                    assertThat(e.getMessage()).isEqualTo(
                            "write error: /sys/bus/pci/devices/0000:18:00.0/reset: No such file or directory");
                });
        assertThat(dir.resolve("reset")).doesNotExist();
    }

    @Test
    void theKernelsRefusalIsKnownByItsStrerrorText() {
        assertThat(Errno.fromMessage("Device or resource busy")).isEqualTo(Errno.EBUSY);
        assertThat(Errno.fromMessage("write failed: No such device")).isEqualTo(Errno.ENODEV);
        assertThat(Errno.fromMessage("Inappropriate ioctl for device")).isEqualTo(Errno.ENOTTY);
        assertThat(Errno.fromMessage("something new")).isEqualTo(Errno.UNKNOWN);
    }
}
