package io.gpucloud.worker.vfio;

import io.gpucloud.worker.action.ActionException;
import io.gpucloud.worker.action.ErrorCodes;
import io.gpucloud.worker.action.StepLog;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Resets PCI functions and moves them between their host driver and vfio-pci, the way Ubicloud and the
 * kernel documentation do it:
 * <pre>
 *   echo vfio-pci > /sys/bus/pci/devices/BDF/driver_override   # only vfio-pci may take it from now on
 *   echo BDF > /sys/bus/pci/devices/BDF/driver/unbind          # if some driver holds it
 *   echo BDF > /sys/bus/pci/drivers_probe                      # let the override bind it
 *   readlink /sys/bus/pci/devices/BDF/driver                   # and check that it did
 * </pre>
 * and back: clear {@code driver_override}, unbind, {@code drivers_probe}, check. Every action first looks
 * at the device: a function already where it should be is left alone and recorded as such, so running a
 * job twice writes nothing the second time. Each sysfs write is one {@link StepLog} step; a refusal ends
 * the action with an {@link ActionException} carrying a stable error code ("device-busy" with the
 * kernel's EBUSY text when a process or an old VM still holds the device).
 */
public final class PciDriverBinder {

    public static final String VFIO_PCI = "vfio-pci";

    /** Drivers vfio accepts on the other members of an IOMMU group (drivers/vfio/group.c). */
    private static final Set<String> VFIO_GROUP_SAFE = Set.of(VFIO_PCI, "pci-stub", "pcieport");

    /**
     * How patient the binder is with the kernel.
     *
     * @param unbindAttempts how often an unbind answered with EBUSY is tried before giving up
     * @param retryDelay     pause between those attempts
     * @param settle         how long to wait for the driver link to appear after drivers_probe
     */
    public record Timing(int unbindAttempts, Duration retryDelay, Duration settle) {
        public Timing {
            if (unbindAttempts < 1) {
                throw new IllegalArgumentException("unbindAttempts must be at least 1");
            }
        }

        /** A server: a GPU whose last user is exiting may stay busy for a moment. */
        public static Timing server() {
            return new Timing(5, Duration.ofMillis(400), Duration.ofSeconds(3));
        }

        /** A simulated kernel answers at once; no reason to sleep. */
        public static Timing immediate() {
            return new Timing(3, Duration.ZERO, Duration.ZERO);
        }
    }

    private final Sysfs sysfs;
    private final Timing timing;

    public PciDriverBinder(Sysfs sysfs, Timing timing) {
        this.sysfs = sysfs;
        this.timing = timing;
    }

    public PciDriverBinder(Sysfs sysfs) {
        this(sysfs, Timing.server());
    }

    public static String devicePath(String bdf) {
        return "/sys/bus/pci/devices/" + bdf;
    }

    // ---- reading state ----------------------------------------------------------------------------------

    public boolean exists(String bdf) {
        return sysfs.exists(devicePath(bdf));
    }

    /** Driver bound now, from the {@code driver} link; empty when unbound. */
    public Optional<String> driverOf(String bdf) {
        return sysfs.readLink(devicePath(bdf) + "/driver").map(PciDriverBinder::lastSegment);
    }

    /** {@code driver_override}; empty when unset (the kernel prints "(null)"). */
    public Optional<String> driverOverride(String bdf) {
        return sysfs.read(devicePath(bdf) + "/driver_override")
                .filter(s -> !s.isEmpty() && !s.equals("(null)"));
    }

    public Optional<Integer> iommuGroup(String bdf) {
        return sysfs.readLink(devicePath(bdf) + "/iommu_group").map(PciDriverBinder::lastSegment).flatMap(s -> {
            try {
                return Optional.of(Integer.parseInt(s));
            } catch (NumberFormatException e) {
                return Optional.empty();
            }
        });
    }

    public List<String> iommuGroupMembers(int group) {
        return sysfs.list("/sys/kernel/iommu_groups/" + group + "/devices");
    }

    /** Class code, 6 hex digits without "0x"; empty when unreadable. */
    public String classCode(String bdf) {
        String c = sysfs.read(devicePath(bdf) + "/class").orElse("").toLowerCase(Locale.ROOT);
        return c.startsWith("0x") ? c.substring(2) : c;
    }

    // ---- actions -----------------------------------------------------------------------------------------

    /** Function-level reset: {@code echo 1 > /sys/bus/pci/devices/BDF/reset}. */
    public void reset(String bdf, StepLog log) throws ActionException {
        requirePresent(bdf, log);
        String path = devicePath(bdf) + "/reset";
        StepLog.Timer t = log.start("reset " + bdf, echo("1", path));
        try {
            sysfs.write(path, "1");
            t.ok();
        } catch (SysfsWriteException e) {
            t.failed(null, e.getMessage());
            if (e.errno() == Errno.EBUSY) {
                throw new ActionException(ErrorCodes.DEVICE_BUSY, "cannot reset " + bdf + ": " + e.detail()
                        + " (EBUSY); something still holds the device", e);
            }
            String hint = e.errno() == Errno.ENOENT || e.errno() == Errno.ENOTTY
                    ? " (the kernel knows no reset method for it)" : "";
            throw new ActionException(ErrorCodes.RESET_FAILED, "cannot reset " + bdf + ": " + e.detail()
                    + " (" + e.errno() + ")" + hint, e);
        }
    }

    /** Binds the function to vfio-pci; already there (with the override set) is success without a write. */
    public void bindVfio(String bdf, StepLog log) throws ActionException {
        requirePresent(bdf, log);
        Optional<String> current = driverOf(bdf);
        boolean overrideSet = driverOverride(bdf).filter(VFIO_PCI::equals).isPresent();
        if (current.filter(VFIO_PCI::equals).isPresent() && overrideSet) {
            log.note(bdf + " already on vfio-pci", "readlink " + devicePath(bdf) + "/driver", VFIO_PCI, true);
            return;
        }
        if (!overrideSet) {
            write(log, "let only vfio-pci take " + bdf, devicePath(bdf) + "/driver_override", VFIO_PCI, bdf);
        }
        if (current.filter(VFIO_PCI::equals).isPresent()) {
            log.note(bdf + " already on vfio-pci", "readlink " + devicePath(bdf) + "/driver", VFIO_PCI, true);
            return;
        }
        if (current.isPresent()) {
            unbind(bdf, current.get(), log);
        }
        write(log, "probe " + bdf, "/sys/bus/pci/drivers_probe", bdf, bdf);
        verify(bdf, VFIO_PCI, log);
    }

    /**
     * Gives the function back to the host: clears driver_override, unbinds it from vfio-pci, lets the
     * kernel probe its native driver. A display-class function (a GPU) must end up on {@code gpuDriver};
     * any other function (a NIC, an audio function) on whatever host driver claims it, or none.
     */
    public void bindHostDriver(String bdf, String gpuDriver, StepLog log) throws ActionException {
        requirePresent(bdf, log);
        boolean gpu = classCode(bdf).startsWith("03");
        Optional<String> current = driverOf(bdf);
        if (driverOverride(bdf).isPresent()) {
            write(log, "clear driver_override of " + bdf, devicePath(bdf) + "/driver_override", "\n", bdf);
        }
        if (current.isPresent() && isHostDriver(current.get(), gpu, gpuDriver)) {
            log.note(bdf + " already on " + current.get(), "readlink " + devicePath(bdf) + "/driver",
                    current.get(), true);
            return;
        }
        if (current.isPresent()) {
            unbind(bdf, current.get(), log);
        }
        write(log, "probe " + bdf, "/sys/bus/pci/drivers_probe", bdf, bdf);
        if (gpu) {
            verify(bdf, gpuDriver, log);
        } else {
            verifyOffVfio(bdf, log);
        }
    }

    /**
     * vfio only hands a group to QEMU when every member is on vfio-pci, pci-stub, pcieport or no driver;
     * a sibling left on its host driver (a GPU's audio function on snd_hda_intel) makes the VM fail to start.
     */
    public void checkGroupViable(String bdf, StepLog log) throws ActionException {
        Optional<Integer> group = iommuGroup(bdf);
        if (group.isEmpty()) {
            log.note("IOMMU group of " + bdf, "readlink " + devicePath(bdf) + "/iommu_group", "no IOMMU group", false);
            throw new ActionException(ErrorCodes.IOMMU_GROUP_NOT_VIABLE,
                    bdf + " has no IOMMU group: the IOMMU is off, so it cannot be passed through");
        }
        String dir = "/sys/kernel/iommu_groups/" + group.get() + "/devices";
        List<String> blocking = new ArrayList<>();
        for (String member : iommuGroupMembers(group.get())) {
            Optional<String> d = driverOf(member);
            if (d.isPresent() && !VFIO_GROUP_SAFE.contains(d.get())) {
                blocking.add(member + " (" + d.get() + ")");
            }
        }
        if (blocking.isEmpty()) {
            log.note("IOMMU group " + group.get() + " is viable", "ls " + dir, String.join(" ", iommuGroupMembers(group.get())), true);
            return;
        }
        log.note("IOMMU group " + group.get() + " is not viable", "ls " + dir, "on host drivers: " + blocking, false);
        throw new ActionException(ErrorCodes.IOMMU_GROUP_NOT_VIABLE, "IOMMU group " + group.get() + " of " + bdf
                + " still has functions on host drivers: " + String.join(", ", blocking)
                + "; bind every function of the group to vfio-pci");
    }

    // ---- steps -------------------------------------------------------------------------------------------

    private void requirePresent(String bdf, StepLog log) throws ActionException {
        if (!exists(bdf)) {
            log.note("find " + bdf, "ls " + devicePath(bdf), "No such file or directory", false);
            throw new ActionException(ErrorCodes.DEVICE_NOT_FOUND, "no PCI function " + bdf + " on this host");
        }
    }

    private void unbind(String bdf, String driver, StepLog log) throws ActionException {
        String path = devicePath(bdf) + "/driver/unbind";
        StepLog.Timer t = log.start("unbind " + bdf + " from " + driver, echo(bdf, path));
        SysfsWriteException last = null;
        for (int attempt = 1; attempt <= timing.unbindAttempts(); attempt++) {
            try {
                sysfs.write(path, bdf);
                t.ok(null, attempt > 1 ? "done on attempt " + attempt : "");
                return;
            } catch (SysfsWriteException e) {
                if (e.errno() == Errno.ENODEV || e.errno() == Errno.ENOENT) {
                    // it left the driver on its own meanwhile: the goal of this step holds
                    t.ok(null, "already unbound: " + e.detail());
                    return;
                }
                last = e;
                if (e.errno() != Errno.EBUSY) {
                    break;
                }
                pause(timing.retryDelay());
            }
        }
        String tries = last.errno() == Errno.EBUSY && timing.unbindAttempts() > 1
                ? " (" + timing.unbindAttempts() + " attempts)" : "";
        t.failed(null, last.getMessage() + tries);
        if (last.errno() == Errno.EBUSY) {
            throw new ActionException(ErrorCodes.DEVICE_BUSY, "cannot unbind " + bdf + " from " + driver + ": "
                    + last.detail() + " (EBUSY)" + tries + "; a process still holds the device, or a VM still has "
                    + "its VFIO group open", last);
        }
        throw new ActionException(ErrorCodes.SYSFS_ERROR, "cannot unbind " + bdf + " from " + driver + ": "
                + last.detail() + " (" + last.errno() + ")", last);
    }

    private void write(StepLog log, String name, String path, String value, String bdf) throws ActionException {
        StepLog.Timer t = log.start(name, echo(value, path));
        try {
            sysfs.write(path, value);
            t.ok();
        } catch (SysfsWriteException e) {
            t.failed(null, e.getMessage());
            String code = switch (e.errno()) {
                case EBUSY -> ErrorCodes.DEVICE_BUSY;
                case ENODEV -> ErrorCodes.DEVICE_NOT_FOUND;
                default -> ErrorCodes.SYSFS_ERROR;
            };
            throw new ActionException(code, "cannot " + name + ": " + e.detail() + " (" + e.errno() + ")"
                    + (e.errno() == Errno.EBUSY ? "; the IOMMU group of " + bdf + " is still in use" : ""), e);
        }
    }

    private void verify(String bdf, String expected, StepLog log) throws ActionException {
        String link = devicePath(bdf) + "/driver";
        StepLog.Timer t = log.start("check " + bdf + " is on " + expected, "readlink " + link);
        Optional<String> now = awaitDriver(bdf, d -> d.equals(expected));
        if (now.filter(expected::equals).isPresent()) {
            t.ok(null, expected);
            return;
        }
        String found = now.orElse("no driver");
        t.failed(null, found);
        String module = expected.replace('-', '_');
        String hint = sysfs.exists("/sys/module/" + module) ? ""
                : "; module " + module + " is not loaded (/sys/module/" + module + " is missing)";
        throw new ActionException(ErrorCodes.BIND_FAILED, bdf + " is on " + found + " after drivers_probe, expected "
                + expected + hint);
    }

    private void verifyOffVfio(String bdf, StepLog log) throws ActionException {
        String link = devicePath(bdf) + "/driver";
        StepLog.Timer t = log.start("check " + bdf + " left vfio-pci", "readlink " + link);
        Optional<String> now = awaitDriver(bdf, d -> !d.equals(VFIO_PCI));
        if (now.filter(VFIO_PCI::equals).isPresent()) {
            t.failed(null, VFIO_PCI);
            throw new ActionException(ErrorCodes.BIND_FAILED, bdf + " is still on vfio-pci after drivers_probe");
        }
        t.ok(null, now.orElse("no driver"));
    }

    private Optional<String> awaitDriver(String bdf, java.util.function.Predicate<String> goal) {
        long deadline = System.nanoTime() + timing.settle().toNanos();
        while (true) {
            Optional<String> now = driverOf(bdf);
            if (now.filter(goal).isPresent() || System.nanoTime() >= deadline) {
                return now;
            }
            pause(Duration.ofMillis(50));
        }
    }

    private static boolean isHostDriver(String driver, boolean gpu, String gpuDriver) {
        return gpu ? driver.equals(gpuDriver) : !driver.equals(VFIO_PCI);
    }

    private static String echo(String value, String path) {
        return value.equals("\n") ? "echo > " + path : "echo " + value + " > " + path;
    }

    private static String lastSegment(String link) {
        String s = link.endsWith("/") ? link.substring(0, link.length() - 1) : link;
        return s.substring(s.lastIndexOf('/') + 1);
    }

    private static void pause(Duration d) {
        if (d.isZero() || d.isNegative()) {
            return;
        }
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
