package io.gpucloud.worker.vfio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpucloud.protocol.job.JobResult;
import io.gpucloud.worker.action.ActionException;
import io.gpucloud.worker.action.ErrorCodes;
import io.gpucloud.worker.action.StepLog;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.sim.SimulatedHostSpec;
import io.gpucloud.worker.sim.SimulatedHosts;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The binder against a simulated host whose kernel reacts to the writes as Linux does. */
class PciDriverBinderTest {

    private static final String GPU = "0000:18:00.0";
    private static final String NIC = "0000:19:00.0";

    @RegisterExtension
    final SimulatedHosts hosts = new SimulatedHosts();

    private final StepLog log = new StepLog();

    private static PciDriverBinder binder(SimulatedHost host) {
        return new PciDriverBinder(host.kernel(), PciDriverBinder.Timing.immediate());
    }

    @Test
    void bindingToVfioTakesTheGpuAwayFromNvidiaSmi() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("bind"));
        assertThat(host.nvidiaSmi().run("-q").stdout()).contains("GPU 00000000:18:00.0");

        binder(host).bindVfio(GPU, log);

        assertThat(log.steps()).extracting(JobResult.Step::command).containsExactly(
                "echo vfio-pci > /sys/bus/pci/devices/0000:18:00.0/driver_override",
                "echo 0000:18:00.0 > /sys/bus/pci/devices/0000:18:00.0/driver/unbind",
                "echo 0000:18:00.0 > /sys/bus/pci/drivers_probe",
                "readlink /sys/bus/pci/devices/0000:18:00.0/driver");
        assertThat(log.steps()).allMatch(JobResult.Step::ok);
        assertThat(host.driver(GPU)).contains("vfio-pci");
        Path sys = host.root().resolve("sys/bus/pci");
        assertThat(sys.resolve("devices/" + GPU + "/driver_override")).hasContent("vfio-pci");
        assertThat(Files.isSymbolicLink(sys.resolve("drivers/vfio-pci/" + GPU))).isTrue();
        assertThat(sys.resolve("drivers/nvidia/" + GPU)).doesNotExist();
        String smi = host.nvidiaSmi().run("-q").stdout();
        assertThat(smi).doesNotContain("00000000:18:00.0").containsPattern("Attached GPUs +: 7\n");
        assertThat(host.discover(host.moduleIds()).pciDevices()).filteredOn(d -> d.bdf().equals(GPU))
                .singleElement().satisfies(d -> assertThat(d.driver()).isEqualTo("vfio-pci"));
    }

    @Test
    void aDeviceAlreadyOnVfioIsLeftAloneWithoutAWrite() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("again"));
        binder(host).bindVfio(GPU, new StepLog());
        int writes = host.kernel().writes().size();

        binder(host).bindVfio(GPU, log);

        assertThat(host.kernel().writes()).hasSize(writes);
        assertThat(log.steps()).singleElement().satisfies(s -> {
            assertThat(s.name()).isEqualTo("0000:18:00.0 already on vfio-pci");
            assertThat(s.ok()).isTrue();
        });
    }

    @Test
    void givingDevicesBackClearsTheOverrideAndLetsTheNativeDriversProbe() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("back"));
        PciDriverBinder binder = binder(host);
        binder.bindVfio(GPU, new StepLog());
        binder.bindVfio(NIC, new StepLog());

        binder.bindHostDriver(GPU, "nvidia", log);
        binder.bindHostDriver(NIC, "nvidia", log);

        assertThat(host.driver(GPU)).contains("nvidia");
        assertThat(host.driver(NIC)).as("a NIC goes back to its own driver").contains("mlx5_core");
        assertThat(binder.driverOverride(GPU)).isEmpty();
        assertThat(host.root().resolve("sys/bus/pci/devices/" + GPU + "/driver_override")).hasContent("(null)");
        assertThat(log.steps()).extracting(JobResult.Step::command).startsWith(
                "echo > /sys/bus/pci/devices/0000:18:00.0/driver_override",
                "echo 0000:18:00.0 > /sys/bus/pci/devices/0000:18:00.0/driver/unbind",
                "echo 0000:18:00.0 > /sys/bus/pci/drivers_probe",
                "readlink /sys/bus/pci/devices/0000:18:00.0/driver");
        assertThat(host.nvidiaSmi().run("-q").stdout()).contains("GPU 00000000:18:00.0");

        int writes = host.kernel().writes().size();
        binder.bindHostDriver(GPU, "nvidia", new StepLog());
        assertThat(host.kernel().writes()).as("already home: nothing written").hasSize(writes);
    }

    @Test
    void aGpuAProcessHoldsOpenStaysBusy() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("busy"));
        host.kernel().refuseUnbind(GPU);

        assertThatThrownBy(() -> binder(host).bindVfio(GPU, log))
                .isInstanceOfSatisfying(ActionException.class, e -> assertThat(e.errorCode()).isEqualTo(ErrorCodes.DEVICE_BUSY))
                .hasMessageContaining("Device or resource busy").hasMessageContaining("EBUSY");

        JobResult.Step failed = log.steps().get(log.steps().size() - 1);
        assertThat(failed.ok()).isFalse();
        assertThat(failed.command()).isEqualTo("echo 0000:18:00.0 > /sys/bus/pci/devices/0000:18:00.0/driver/unbind");
        assertThat(failed.output()).contains("Device or resource busy").contains("3 attempts");
        assertThat(host.kernel().writes()).filteredOn(w -> w.contains("driver/unbind")).hasSize(3);
        assertThat(host.driver(GPU)).contains("nvidia");

        host.kernel().allowUnbind(GPU);
        binder(host).bindVfio(GPU, new StepLog());
        assertThat(host.driver(GPU)).contains("vfio-pci");
    }

    @Test
    void resetWritesOneAndReportsTheKernelsRefusal() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("reset"));
        binder(host).reset(GPU, log);
        assertThat(host.kernel().resetCount(GPU)).isEqualTo(1);
        assertThat(log.steps()).singleElement()
                .satisfies(s -> assertThat(s.command()).isEqualTo("echo 1 > /sys/bus/pci/devices/0000:18:00.0/reset"));

        host.kernel().failReset(GPU);
        assertThatThrownBy(() -> binder(host).reset(GPU, new StepLog()))
                .isInstanceOfSatisfying(ActionException.class, e -> assertThat(e.errorCode()).isEqualTo(ErrorCodes.RESET_FAILED))
                .hasMessageContaining("Inappropriate ioctl for device");
        assertThat(host.kernel().resetCount(GPU)).isEqualTo(1);
    }

    @Test
    void anOldVmHoldingTheVfioGroupBlocksBothDirections() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("held"));
        PciDriverBinder binder = binder(host);
        binder.bindVfio(GPU, new StepLog());
        host.kernel().holdVfioGroup(GPU, "qemu pid 4242");

        assertThatThrownBy(() -> binder.bindHostDriver(GPU, "nvidia", new StepLog()))
                .isInstanceOfSatisfying(ActionException.class, e -> assertThat(e.errorCode()).isEqualTo(ErrorCodes.DEVICE_BUSY))
                .hasMessageContaining("Device or resource busy");
        assertThat(host.driver(GPU)).contains("vfio-pci");

        String other = "0000:2a:00.0";
        host.kernel().holdVfioGroup(other, "qemu pid 4243");
        assertThatThrownBy(() -> binder.bindVfio(other, new StepLog()))
                .isInstanceOfSatisfying(ActionException.class, e -> assertThat(e.errorCode()).isEqualTo(ErrorCodes.DEVICE_BUSY))
                .hasMessageContaining("Device or resource busy");

        host.kernel().releaseVfioGroup(GPU);
        binder.bindHostDriver(GPU, "nvidia", new StepLog());
        assertThat(host.driver(GPU)).contains("nvidia");
    }

    @Test
    void aGroupIsViableOnlyWhenEveryFunctionLeftItsHostDriver() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("group").withGpuAudioFunctions());
        PciDriverBinder binder = binder(host);
        binder.bindVfio(GPU, new StepLog());

        assertThatThrownBy(() -> binder.checkGroupViable(GPU, new StepLog()))
                .isInstanceOfSatisfying(ActionException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(ErrorCodes.IOMMU_GROUP_NOT_VIABLE))
                .hasMessageContaining("0000:18:00.1 (snd_hda_intel)");

        binder.bindVfio("0000:18:00.1", new StepLog());
        binder.checkGroupViable(GPU, log);
        assertThat(log.steps()).singleElement().satisfies(s -> assertThat(s.ok()).isTrue());
    }

    @Test
    void withoutTheNvidiaModuleAGpuCannotGoHome() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("no-nvidia").withNvidiaDriverLoaded(false));
        assertThat(host.driver(GPU)).contains("vfio-pci");

        assertThatThrownBy(() -> binder(host).bindHostDriver(GPU, "nvidia", log))
                .isInstanceOfSatisfying(ActionException.class, e -> assertThat(e.errorCode()).isEqualTo(ErrorCodes.BIND_FAILED))
                .hasMessageContaining("no driver").hasMessageContaining("module nvidia is not loaded");
    }

    @Test
    void anAddressThatIsNotOnTheBusIsNotFound() {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("gone").withMissingModuleIds(2));
        // module 2 is the GPU at bus 18 on this board
        assertThatThrownBy(() -> binder(host).bindVfio(GPU, log))
                .isInstanceOfSatisfying(ActionException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(ErrorCodes.DEVICE_NOT_FOUND));
        assertThat(host.kernel().writes()).isEmpty();
    }
}
