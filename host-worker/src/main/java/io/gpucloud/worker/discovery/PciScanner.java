package io.gpucloud.worker.discovery;

import io.gpucloud.worker.catalog.DeviceType;
import io.gpucloud.worker.catalog.PciCatalog;
import io.gpucloud.worker.pci.Bdf;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Walks {@code /sys/bus/pci/devices}. The tree comes from each entry's symlink target
 * ({@code ../../../devices/pci0000:15/0000:15:01.0/0000:16:00.0/...}): every BDF on that path is an
 * ancestor, root port first. Only identity files are read for every function (a real host has
 * hundreds of chipset functions); the rest is read for the functions discovery reports.
 */
final class PciScanner {

    private static final Pattern HEX4 = Pattern.compile("0x[0-9a-fA-F]{4}");
    private static final Pattern HEX6 = Pattern.compile("0x[0-9a-fA-F]{6}");
    private static final int BAR_COUNT = 6;

    private final SysfsFiles fs;
    private final PciCatalog catalog;

    PciScanner(SysfsFiles fs, PciCatalog catalog) {
        this.fs = fs;
        this.catalog = catalog;
    }

    List<PciFunction> scan() {
        Path devices = fs.path("sys/bus/pci/devices");
        List<PciFunction> functions = new ArrayList<>();
        for (String name : fs.list(devices)) {
            if (!Bdf.isBdf(name)) {
                fs.warn("sysfs-garbled", devices.resolve(name), "unexpected entry " + name + " in sys/bus/pci/devices");
                continue;
            }
            String bdf = Bdf.normalize(name);
            Path dir = fs.resolveLink(devices.resolve(name));
            Optional<String> vendor = hexId(dir.resolve("vendor"), HEX4);
            Optional<String> device = hexId(dir.resolve("device"), HEX4);
            Optional<String> cls = hexId(dir.resolve("class"), HEX6);
            if (vendor.isEmpty() || device.isEmpty() || cls.isEmpty()) {
                continue; // already reported; a function we cannot identify is useless to the control plane
            }
            DeviceType type = catalog.lookup(vendor.get(), device.get(), cls.get()).orElse(null);
            functions.add(new PciFunction(bdf, vendor.get(), device.get(), cls.get(), dir, ancestors(dir, bdf), type));
        }
        return functions;
    }

    /** NUMA node as the kernel prints it (-1 = unknown); empty when unreadable. */
    Optional<Integer> numaNode(PciFunction f) {
        return fs.readInt(f.dir().resolve("numa_node"));
    }

    Optional<String> driver(PciFunction f) {
        return fs.linkName(f.dir().resolve("driver"));
    }

    /**
     * Sizes of the populated BARs in BAR order. The {@code resource} file has one
     * "start end flags" line per resource, BARs 0-5 first; a 64-bit BAR leaves the next line zero.
     */
    List<Long> barSizes(PciFunction f) {
        Path file = f.dir().resolve("resource");
        Optional<String> text = fs.read(file);
        List<Long> sizes = new ArrayList<>();
        if (text.isEmpty()) {
            return sizes;
        }
        String[] lines = text.get().split("\n");
        for (int i = 0; i < Math.min(BAR_COUNT, lines.length); i++) {
            String[] cols = lines[i].trim().split("\\s+");
            try {
                long start = Long.parseUnsignedLong(strip0x(cols[0]), 16);
                long end = Long.parseUnsignedLong(strip0x(cols[1]), 16);
                if (end != 0 && end >= start) {
                    sizes.add(end - start + 1);
                }
            } catch (RuntimeException e) {
                fs.garbled(file, lines[i]);
                return List.of();
            }
        }
        return sizes;
    }

    static Map<String, PciFunction> byBdf(List<PciFunction> functions) {
        Map<String, PciFunction> map = new HashMap<>();
        functions.forEach(f -> map.put(f.bdf(), f));
        return map;
    }

    private Optional<String> hexId(Path file, Pattern format) {
        return fs.readRequired(file).flatMap(s -> {
            if (!format.matcher(s).matches()) {
                fs.garbled(file, s);
                return Optional.empty();
            }
            return Optional.of(s.substring(2).toLowerCase(Locale.ROOT));
        });
    }

    private static List<String> ancestors(Path realDir, String self) {
        List<String> chain = new ArrayList<>();
        for (Path part : realDir) {
            String s = part.toString();
            if (Bdf.isBdf(s)) {
                chain.add(Bdf.normalize(s));
            }
        }
        if (!chain.isEmpty() && chain.get(chain.size() - 1).equals(self)) {
            chain.remove(chain.size() - 1);
        }
        return List.copyOf(chain);
    }

    private static String strip0x(String s) {
        return s.startsWith("0x") || s.startsWith("0X") ? s.substring(2) : s;
    }
}
