package io.gpucloud.worker.job;

import io.gpucloud.worker.fabric.Fmpm;
import io.gpucloud.worker.libvirt.BootImageDirectory;
import io.gpucloud.worker.libvirt.CpuIdentity;
import io.gpucloud.worker.libvirt.GuestCatalog;
import io.gpucloud.worker.libvirt.GuestImages;
import io.gpucloud.worker.libvirt.SimulatedGuestImages;
import io.gpucloud.worker.libvirt.Hypervisor;
import io.gpucloud.worker.libvirt.HypervisorException;
import io.gpucloud.worker.libvirt.LibvirtHypervisor;
import io.gpucloud.worker.nvidiasmi.NvidiaSmi;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.vfio.PciDriverBinder;
import io.gpucloud.worker.vfio.Sysfs;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * The hardware touch points one worker acts through. The same {@link JobExecutor} runs on either wiring:
 * <ul>
 *   <li>{@link #forThisHost()}: the kernel's sysfs at "/", {@code fmpm} and {@code nvidia-smi} from PATH,
 *       {@code qemu:///system};</li>
 *   <li>{@link #forSimulatedHost(SimulatedHost)}: the host's {@code SimulatedKernel}, its simulated fmpm and nvidia-smi,
 *       and a libvirt test driver of its own (real libvirt-java calls and XML parsing).</li>
 * </ul>
 *
 * @param sysfs            where driver binding reads and writes
 * @param binderTiming     unbind retries and driver-link settle time
 * @param fmpm             Fabric Manager's partition tool
 * @param hypervisor       the libvirt connection; owned: {@link JobExecutor#close()} closes it
 * @param cpu              host CPU identity for NCCL topology files
 * @param catalog          guest-side device and platform facts
 * @param shutdownPoll     how often STOP_DOMAIN looks whether the guest is down yet
 * @param managementNetwork libvirt network of the VMs' management NIC, or null for none
 * @param nvidiaSmi        nvidia-smi, for GPU virtualization modes (MIG)
 * @param images           the guests' disk overlays and cloud-init seeds ({@code qemu-img}, {@code genisoimage})
 */
public record HostActions(Sysfs sysfs, PciDriverBinder.Timing binderTiming, Fmpm fmpm, Hypervisor hypervisor,
                          CpuIdentity cpu, GuestCatalog catalog, Duration shutdownPoll, String managementNetwork,
                          NvidiaSmi nvidiaSmi, GuestImages images) {

    public HostActions {
        Objects.requireNonNull(sysfs);
        Objects.requireNonNull(binderTiming);
        Objects.requireNonNull(fmpm);
        Objects.requireNonNull(hypervisor);
        Objects.requireNonNull(cpu);
        Objects.requireNonNull(catalog);
        Objects.requireNonNull(shutdownPoll);
        Objects.requireNonNull(nvidiaSmi);
        Objects.requireNonNull(images);
    }

    /** This server: sysfs "/", {@code fmpm} from PATH, {@code qemu:///system}, boot images in {@code images}. */
    public static HostActions forThisHost(BootImageDirectory images) throws HypervisorException {
        return new HostActions(Sysfs.linux(), PciDriverBinder.Timing.server(), Fmpm.system(),
                LibvirtHypervisor.open(LibvirtHypervisor.SYSTEM), CpuIdentity.read(Path.of("/"), CpuIdentity.SAPPHIRE_RAPIDS),
                GuestCatalog.builtin(), Duration.ofSeconds(1), "default", NvidiaSmi.system(), GuestImages.tools(images));
    }

    /**
     * A simulated host: its kernel, its fmpm, and a libvirt test driver private to this connection
     * ({@code test:///<root>/var/lib/libvirt-test/libvirt-test-node.xml}), so several simulated hosts in one
     * JVM never see each other's domains (on {@code test:///default} they would: every connection of a
     * process shares it). Its domains live as long as the connection, i.e. the executor.
     */
    public static HostActions forSimulatedHost(SimulatedHost host) throws HypervisorException {
        return forSimulatedHost(host, LibvirtHypervisor.openPrivateTestDriver(host.root().resolve("var/lib/libvirt-test")));
    }

    /** A simulated host on a given hypervisor connection (e.g. {@code test:///default} for one shared test driver). */
    public static HostActions forSimulatedHost(SimulatedHost host, Hypervisor hypervisor) {
        return new HostActions(host.kernel(), PciDriverBinder.Timing.immediate(), host.fmpm(), hypervisor,
                CpuIdentity.read(host.root(), CpuIdentity.SAPPHIRE_RAPIDS), GuestCatalog.builtin(), Duration.ofMillis(20),
                "default", host.nvidiaSmi(), new SimulatedGuestImages(host.bootImages()));
    }
}
