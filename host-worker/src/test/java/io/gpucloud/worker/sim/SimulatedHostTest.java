package io.gpucloud.worker.sim;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.PciDevice;
import io.gpucloud.worker.nvidiasmi.ModuleIdReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

class SimulatedHostTest {

    @RegisterExtension
    final SimulatedHosts hosts = new SimulatedHosts();

    @Test
    void treeLooksLikeSysfs() throws IOException {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("tree"));
        Path entry = host.root().resolve("sys/bus/pci/devices/0000:18:00.0");

        assertThat(Files.isSymbolicLink(entry)).isTrue();
        assertThat(Files.readSymbolicLink(entry).isAbsolute()).as("kernel links are relative").isFalse();
        assertThat(entry.toRealPath()).isEqualTo(host.root().toRealPath()
                .resolve("sys/devices/pci0000:15/0000:15:01.0/0000:16:00.0/0000:17:00.0/0000:18:00.0"));
        assertThat(Files.readString(entry.resolve("vendor"))).isEqualTo("0x10de\n");
        assertThat(Files.readString(entry.resolve("class"))).isEqualTo("0x030200\n");
        assertThat(Files.readSymbolicLink(entry.resolve("driver")).getFileName().toString()).isEqualTo("nvidia");
        Path group = entry.resolve("iommu_group").toRealPath();
        assertThat(group.getParent()).isEqualTo(host.root().toRealPath().resolve("sys/kernel/iommu_groups"));
        assertThat(group.resolve("devices/0000:18:00.0")).exists();
        assertThat(Files.readAllLines(entry.resolve("resource")).get(2)).as("BAR2: 128 GiB, 64-bit prefetchable")
                .matches("0x[0-9a-f]{16} 0x[0-9a-f]{16} 0x000000000014220c");
        assertThat(Files.readString(host.root().resolve("proc/sys/kernel/hostname"))).isEqualTo("tree\n");
        assertThat(Files.readString(host.root().resolve("sys/devices/system/node/node0/cpulist")))
                .startsWith("0,2,4,6,");
    }

    @Test
    void moduleIdsAreNotInBusOrder() {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("order"));
        assertThat(host.gpuBdfs().stream().map(host.moduleIds()::get).toList()).containsExactly(2, 4, 1, 3, 6, 8, 5, 7);
    }

    @Test
    void rebindingAGpuToVfioHidesItFromNvidiaSmiAsOnARealHost() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("rebind"));
        Path driver = host.root().resolve("sys/bus/pci/devices/0000:18:00.0/driver");
        Path vfio = Files.createDirectories(host.root().resolve("sys/bus/pci/drivers/vfio-pci"));
        Path devDir = driver.getParent().toRealPath();
        Files.delete(driver);
        Files.createSymbolicLink(driver, devDir.relativize(vfio.toRealPath()));

        Map<String, Integer> seen = new ModuleIdReader(host.nvidiaSmi()).read();
        assertThat(seen).hasSize(7).doesNotContainKey("0000:18:00.0");

        HostTopology t = host.discover(Map.of("0000:18:00.0", 2));
        PciDevice gpu = t.pciDevices().stream().filter(d -> d.bdf().equals("0000:18:00.0")).findFirst().orElseThrow();
        assertThat(gpu.driver()).isEqualTo("vfio-pci");
        assertThat(gpu.moduleId()).isEqualTo(2);
        assertThat(t.problems()).isEmpty();
    }

    @Test
    void noDeviceOnNvidiaMeansNoDevicesFound() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.pcieGpuHost("l40s"));
        Path vfio = Files.createDirectories(host.root().resolve("sys/bus/pci/drivers/vfio-pci"));
        for (String bdf : host.gpuBdfs()) {
            Path driver = host.root().resolve("sys/bus/pci/devices").resolve(bdf).resolve("driver");
            Path devDir = driver.getParent().toRealPath();
            Files.delete(driver);
            Files.createSymbolicLink(driver, devDir.relativize(vfio.toRealPath()));
        }
        assertThat(host.nvidiaSmi().run("-q").exitCode()).isEqualTo(6);
        assertThat(host.nvidiaSmi().run("-q").stdout()).isEqualTo("No devices were found\n");
    }

    @Test
    void materializeWritesIntoTheCallersDirectoryAndLeavesItThere(@TempDir Path dir) {
        SimulatedHost host = SimulatedHost.materialize(SimulatedHostSpec.noGpu("mine"), dir.resolve("host"));
        host.close();
        assertThat(dir.resolve("host/proc/sys/kernel/hostname")).hasContent("mine");
        assertThat(host.discover().hostName()).isEqualTo("mine");
    }

    @Test
    void tempDirectoryHostCleansUpAfterItself() {
        Path root;
        try (SimulatedHost host = SimulatedHost.inTempDirectory(SimulatedHostSpec.noGpu("tmp"))) {
            root = host.root();
            assertThat(root.resolve("sys/bus/pci/devices")).isDirectory();
        }
        assertThat(root).doesNotExist();
    }

    @Test
    void severalHostsSideBySideStayIndependent() {
        SimulatedHost a = hosts.create(SimulatedHostSpec.hgxH100("a"));
        SimulatedHost b = hosts.create(SimulatedHostSpec.hgxB200("b"));
        a.fmpm().run("-a", "0");
        assertThat(a.discover().partitions().get(0).active()).isTrue();
        assertThat(b.discover().partitions()).noneMatch(p -> p.active());
        assertThat(List.of(a.discover().hostName(), b.discover().hostName())).containsExactly("a", "b");
    }
}
