package io.gpucloud.worker.sim;

import io.gpucloud.worker.sim.BoardLayout.Dev;
import io.gpucloud.worker.vfio.Errno;
import io.gpucloud.worker.vfio.LinuxSysfs;
import io.gpucloud.worker.vfio.Sysfs;
import io.gpucloud.worker.vfio.SysfsWriteException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The part of Linux that reacts to sysfs writes, for a {@link SimulatedHost}. Plain files cannot react, so
 * the worker's sysfs writes go through this {@link Sysfs} in simulation; it changes the simulated tree the
 * way the kernel's store functions change the real one (drivers/pci/pci-driver.c, pci-sysfs.c,
 * drivers/base/bus.c), and everything that reads the tree (discovery, the nvidia-smi simulator, the
 * binder's own checks) sees the result:
 * <ul>
 *   <li>{@code driver_override}: stores the name ("(null)" when cleared by an empty write); binds nothing;</li>
 *   <li>{@code drivers/NAME/unbind} (also reached as {@code devices/BDF/driver/unbind}): removes the
 *       {@code driver} link and the driver's entry; ENODEV when the device is not bound to NAME;</li>
 *   <li>{@code drivers_probe}: an unbound device gets the driver named by its override, else its native
 *       driver (nvidia for GPUs and NVSwitches, only while {@code sys/module/nvidia} exists); a driver whose
 *       probe would fail (vfio-pci on a bridge) leaves it unbound and the write still succeeds, as in Linux;
 *       a bound device is left alone;</li>
 *   <li>{@code drivers/NAME/bind}: EBUSY when already bound, ENODEV when NAME does not match it;</li>
 *   <li>{@code reset}: "1" resets (counted), anything else is EINVAL.</li>
 * </ul>
 * Failure modes to switch on in tests: {@link #refuseUnbind} (a process holds the GPU open: unbind answers
 * EBUSY), {@link #failReset} (no reset method: ENOTTY, "Inappropriate ioctl for device"), and
 * {@link #holdVfioGroup} (an old VM still has {@code /dev/vfio/N} open: unbinding any member from vfio-pci
 * and probing a member onto vfio-pci answer EBUSY; the real kernel blocks in the unbind until the
 * holder lets go, which a worker cannot tell from a refusal).
 */
public final class SimulatedKernel implements Sysfs {

    private static final Pattern DRIVER_FILE = Pattern.compile("sys/bus/pci/drivers/([^/]+)/(bind|unbind)");
    private static final String VFIO_PCI = "vfio-pci";

    private final Path root;
    private final LinuxSysfs files;
    private final Map<String, Dev> devices = new LinkedHashMap<>();
    private final Set<String> refuseUnbind = new HashSet<>();
    private final Set<String> failReset = new HashSet<>();
    private final Map<Integer, String> heldGroups = new HashMap<>();
    private final Map<String, Integer> resets = new HashMap<>();
    private final List<String> writes = new ArrayList<>();

    SimulatedKernel(Path root, BoardLayout layout) {
        this.root = root;
        this.files = new LinuxSysfs(root);
        layout.devices.forEach(d -> devices.put(d.bdf, d));
    }

    // ---- failure switches -------------------------------------------------------------------------------

    /** Unbinding this function answers EBUSY until {@link #allowUnbind}: a process holds it open. */
    public synchronized void refuseUnbind(String bdf) {
        refuseUnbind.add(bdf);
    }

    public synchronized void allowUnbind(String bdf) {
        refuseUnbind.remove(bdf);
    }

    /** Resetting this function answers ENOTTY: the kernel knows no reset method for it. */
    public synchronized void failReset(String bdf) {
        failReset.add(bdf);
    }

    /** Marks the IOMMU group of {@code bdf} open by a VM ({@code holder}, e.g. "qemu pid 4242"). */
    public synchronized void holdVfioGroup(String bdf, String holder) {
        heldGroups.put(groupOf(bdf).orElseThrow(() -> new IllegalArgumentException(bdf + " has no IOMMU group")),
                holder);
    }

    /** The holder closed {@code /dev/vfio/N}. */
    public synchronized void releaseVfioGroup(String bdf) {
        groupOf(bdf).ifPresent(heldGroups::remove);
    }

    // ---- what happened ----------------------------------------------------------------------------------

    /** How often the function was reset. */
    public synchronized int resetCount(String bdf) {
        return resets.getOrDefault(bdf, 0);
    }

    /** Every write that reached the kernel, as {@code echo VALUE > PATH}, refused ones included. */
    public synchronized List<String> writes() {
        return List.copyOf(writes);
    }

    // ---- Sysfs ------------------------------------------------------------------------------------------

    @Override
    public synchronized void write(String path, String value) throws SysfsWriteException {
        writes.add("echo " + value.strip() + " > " + path);
        Path file = files.resolve(path);
        Path real;
        try {
            real = file.getParent().toRealPath().resolve(file.getFileName());
        } catch (IOException e) {
            throw new SysfsWriteException(path, value, Errno.ENOENT);
        }
        if (!Files.isRegularFile(real)) {
            throw new SysfsWriteException(path, value, Errno.ENOENT);
        }
        String rel = realRoot().relativize(real).toString();
        Matcher m = DRIVER_FILE.matcher(rel);
        String name = real.getFileName().toString();
        if (rel.equals("sys/bus/pci/drivers_probe")) {
            probe(path, value);
        } else if (m.matches()) {
            if (m.group(2).equals("unbind")) {
                unbind(path, value, m.group(1));
            } else {
                bind(path, value, m.group(1));
            }
        } else if (name.equals("driver_override") && deviceOfDir(real.getParent()).isPresent()) {
            override(path, value, real);
        } else if (name.equals("reset") && deviceOfDir(real.getParent()).isPresent()) {
            reset(path, value, deviceOfDir(real.getParent()).get());
        } else {
            store(real, value);
        }
    }

    @Override
    public Optional<String> read(String path) {
        return files.read(path);
    }

    @Override
    public Optional<String> readLink(String path) {
        return files.readLink(path);
    }

    @Override
    public List<String> list(String path) {
        return files.list(path);
    }

    @Override
    public boolean exists(String path) {
        return files.exists(path);
    }

    // ---- store functions --------------------------------------------------------------------------------

    private void probe(String path, String value) throws SysfsWriteException {
        Dev d = devices.get(value.strip());
        if (d == null) {
            throw new SysfsWriteException(path, value, Errno.ENODEV);
        }
        if (driverOf(d).isPresent()) {
            return; // bus_rescan_devices_helper: a bound device is left alone
        }
        String candidate = overrideOf(d).orElseGet(() -> nativeDriver(d));
        if (candidate == null || !moduleLoaded(candidate)) {
            return;
        }
        if (candidate.equals(VFIO_PCI)) {
            if (d.isBridge()) {
                return; // vfio_pci_probe: -EINVAL for non-normal headers, logged, write succeeds
            }
            Optional<Integer> group = groupOf(d.bdf);
            if (group.isPresent() && heldGroups.containsKey(group.get())) {
                throw new SysfsWriteException(path, value, Errno.EBUSY);
            }
        }
        attach(d, candidate);
    }

    private void bind(String path, String value, String driver) throws SysfsWriteException {
        Dev d = devices.get(value.strip());
        if (d == null) {
            throw new SysfsWriteException(path, value, Errno.ENODEV);
        }
        if (driverOf(d).isPresent()) {
            throw new SysfsWriteException(path, value, Errno.EBUSY);
        }
        Optional<String> override = overrideOf(d);
        boolean matches = override.isPresent() ? override.get().equals(driver) : driver.equals(nativeDriver(d));
        if (!matches || (driver.equals(VFIO_PCI) && d.isBridge())) {
            throw new SysfsWriteException(path, value, Errno.ENODEV);
        }
        attach(d, driver);
    }

    private void unbind(String path, String value, String driver) throws SysfsWriteException {
        Dev d = devices.get(value.strip());
        if (d == null || !driverOf(d).filter(driver::equals).isPresent()) {
            throw new SysfsWriteException(path, value, Errno.ENODEV);
        }
        if (refuseUnbind.contains(d.bdf)) {
            throw new SysfsWriteException(path, value, Errno.EBUSY);
        }
        if (driver.equals(VFIO_PCI) && groupOf(d.bdf).filter(heldGroups::containsKey).isPresent()) {
            throw new SysfsWriteException(path, value, Errno.EBUSY);
        }
        try {
            Files.deleteIfExists(deviceDir(d).resolve("driver"));
            Files.deleteIfExists(driverDir(driver).resolve(d.bdf));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void override(String path, String value, Path file) throws SysfsWriteException {
        if (value.length() >= 4096) {
            throw new SysfsWriteException(path, value, Errno.EINVAL);
        }
        int newline = value.indexOf('\n');
        String name = newline >= 0 ? value.substring(0, newline) : value;
        store(file, name.isEmpty() ? "(null)\n" : name + "\n");
    }

    private void reset(String path, String value, Dev d) throws SysfsWriteException {
        if (!value.strip().equals("1")) {
            throw new SysfsWriteException(path, value, Errno.EINVAL);
        }
        if (failReset.contains(d.bdf)) {
            throw new SysfsWriteException(path, value, Errno.ENOTTY);
        }
        resets.merge(d.bdf, 1, Integer::sum);
    }

    // ---- tree -------------------------------------------------------------------------------------------

    private void attach(Dev d, String driver) {
        try {
            Path driverDir = driverDir(driver);
            Files.createDirectories(driverDir);
            for (String f : List.of("bind", "unbind")) {
                if (!Files.exists(driverDir.resolve(f))) {
                    Files.createFile(driverDir.resolve(f));
                }
            }
            Path devDir = deviceDir(d);
            Files.createSymbolicLink(devDir.resolve("driver"), devDir.relativize(driverDir));
            Path entry = driverDir.resolve(d.bdf);
            Files.deleteIfExists(entry);
            Files.createSymbolicLink(entry, driverDir.relativize(devDir));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The driver a device gets when nothing overrides it: what the kernel's id tables would pick. */
    private static String nativeDriver(Dev d) {
        if ("10de".equals(d.vendor) && (d.gpu != null || d.classCode.startsWith("0680"))) {
            return "nvidia";
        }
        if ("10de".equals(d.vendor) && d.classCode.startsWith("0403")) {
            return "snd_hda_intel";
        }
        return VFIO_PCI.equals(d.driver) ? null : d.driver;
    }

    private boolean moduleLoaded(String driver) {
        return !driver.equals("nvidia") || Files.isDirectory(root.resolve("sys/module/nvidia"));
    }

    private Optional<String> driverOf(Dev d) {
        return files.readLink("/sys/bus/pci/devices/" + d.bdf + "/driver")
                .map(l -> l.substring(l.lastIndexOf('/') + 1));
    }

    private Optional<String> overrideOf(Dev d) {
        return files.read("/sys/bus/pci/devices/" + d.bdf + "/driver_override")
                .filter(s -> !s.isEmpty() && !s.equals("(null)"));
    }

    private Optional<Integer> groupOf(String bdf) {
        return files.readLink("/sys/bus/pci/devices/" + bdf + "/iommu_group")
                .map(l -> Integer.parseInt(l.substring(l.lastIndexOf('/') + 1)));
    }

    private Optional<Dev> deviceOfDir(Path dir) {
        Dev d = devices.get(dir.getFileName().toString());
        try {
            return d != null && deviceDir(d).equals(dir) ? Optional.of(d) : Optional.empty();
        } catch (UncheckedIOException e) {
            return Optional.empty();
        }
    }

    private Path deviceDir(Dev d) {
        try {
            return realRoot().resolve("sys/bus/pci/devices").resolve(d.bdf).toRealPath();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Path driverDir(String driver) {
        return realRoot().resolve("sys/bus/pci/drivers").resolve(driver);
    }

    private Path realRoot() {
        try {
            return root.toRealPath();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void store(Path file, String content) {
        try {
            Files.write(file, content.getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
