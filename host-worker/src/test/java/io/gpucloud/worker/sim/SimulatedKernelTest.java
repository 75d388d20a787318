package io.gpucloud.worker.sim;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.worker.vfio.Errno;
import io.gpucloud.worker.vfio.SysfsWriteException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The simulated kernel's store functions, written to as an operator would with echo. */
class SimulatedKernelTest {

    private static final String GPU = "0000:18:00.0";
    private static final String DEV = "/sys/bus/pci/devices/" + GPU;

    @RegisterExtension
    final SimulatedHosts hosts = new SimulatedHosts();

    private static Errno errno(ThrowingWrite w) {
        try {
            w.run();
        } catch (SysfsWriteException e) {
            return e.errno();
        }
        throw new AssertionError("the write was expected to fail");
    }

    private interface ThrowingWrite {
        void run() throws SysfsWriteException;
    }

    @Test
    void unbindAndProbeFollowTheKernelsRules() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("kernel"));
        SimulatedKernel k = host.kernel();

        assertThat(errno(() -> k.write("/sys/bus/pci/drivers/vfio-pci/unbind", GPU)))
                .as("not bound to vfio-pci").isEqualTo(Errno.ENODEV);
        assertThat(errno(() -> k.write("/sys/bus/pci/drivers/nvidia/bind", GPU)))
                .as("bound already").isEqualTo(Errno.EBUSY);

        k.write(DEV + "/driver/unbind", GPU);
        assertThat(host.driver(GPU)).isEmpty();
        assertThat(errno(() -> k.write(DEV + "/driver/unbind", GPU)))
                .as("no driver link, no unbind file").isEqualTo(Errno.ENOENT);

        k.write("/sys/bus/pci/drivers_probe", GPU);
        assertThat(host.driver(GPU)).as("without an override the native driver takes it").contains("nvidia");

        k.write(DEV + "/driver_override", "vfio-pci\n");
        assertThat(host.driver(GPU)).as("an override alone binds nothing").contains("nvidia");
        k.write("/sys/bus/pci/drivers_probe", GPU);
        assertThat(host.driver(GPU)).as("probing a bound device changes nothing").contains("nvidia");
        k.write(DEV + "/driver/unbind", GPU);
        k.write("/sys/bus/pci/drivers_probe", GPU);
        assertThat(host.driver(GPU)).contains("vfio-pci");

        k.write(DEV + "/driver_override", "\n");
        assertThat(k.read(DEV + "/driver_override")).contains("(null)");
        assertThat(errno(() -> k.write("/sys/bus/pci/drivers_probe", "0000:77:00.0"))).isEqualTo(Errno.ENODEV);
    }

    @Test
    void vfioDoesNotTakeABridgeAndResetWantsAOne() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("bridge"));
        SimulatedKernel k = host.kernel();
        String port = "0000:17:00.0"; // a PCIe switch downstream port
        k.write("/sys/bus/pci/devices/" + port + "/driver_override", "vfio-pci");
        k.write("/sys/bus/pci/devices/" + port + "/driver/unbind", port);
        k.write("/sys/bus/pci/drivers_probe", port);
        assertThat(host.driver(port)).as("vfio-pci's probe refuses bridges; the write still succeeds").isEmpty();

        assertThat(errno(() -> k.write(DEV + "/reset", "2"))).isEqualTo(Errno.EINVAL);
        k.write(DEV + "/reset", "1");
        assertThat(k.resetCount(GPU)).isEqualTo(1);
        assertThat(errno(() -> k.write(DEV + "/no_such_attribute", "1"))).isEqualTo(Errno.ENOENT);
    }
}
