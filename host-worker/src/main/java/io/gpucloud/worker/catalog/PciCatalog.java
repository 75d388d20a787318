package io.gpucloud.worker.catalog;

import io.gpucloud.protocol.DeviceKind;
import java.io.InputStream;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Maps a PCI function (vendor, device, class) to what it is. The ids live in
 * {@code catalog/pci-ids.json} so that a new board revision (say, another H200 device id) is a
 * data change, not a code change.
 */
public final class PciCatalog {

    record DeviceJson(String vendor, String device, DeviceKind kind, String model, boolean pcieSwitch) {
    }

    record ClassJson(String classPrefix, String vendor, DeviceKind kind, String model) {
    }

    record FileJson(List<DeviceJson> devices, List<ClassJson> classes) {
    }

    private static volatile PciCatalog builtin;

    private final Map<String, DeviceType> byId = new HashMap<>();
    private final List<ClassJson> classRules;

    private PciCatalog(FileJson file) {
        for (DeviceJson d : file.devices()) {
            byId.put(key(d.vendor(), d.device()), new DeviceType(d.kind(), d.model(), d.pcieSwitch()));
        }
        // Most specific class rule first, so "030200" beats "03" should both be listed.
        classRules = file.classes().stream()
                .sorted(Comparator.comparingInt((ClassJson c) -> c.classPrefix().length()).reversed())
                .toList();
    }

    /** The catalog shipped with the worker. */
    public static PciCatalog builtin() {
        PciCatalog c = builtin;
        if (c == null) {
            c = load(CatalogJson.resource("pci-ids.json"));
            builtin = c;
        }
        return c;
    }

    /** A catalog from another file in the same format (an operator's override). */
    public static PciCatalog load(InputStream json) {
        return new PciCatalog(CatalogJson.read(json, FileJson.class));
    }

    /**
     * @param vendor    4 hex digits, any case, with or without "0x"
     * @param device    4 hex digits
     * @param classCode 6 hex digits
     */
    public Optional<DeviceType> lookup(String vendor, String device, String classCode) {
        String v = hex(vendor);
        DeviceType exact = byId.get(key(v, hex(device)));
        if (exact != null) {
            return Optional.of(exact);
        }
        String cls = hex(classCode);
        for (ClassJson rule : classRules) {
            if (cls.startsWith(rule.classPrefix()) && (rule.vendor() == null || rule.vendor().equals(v))) {
                return Optional.of(new DeviceType(rule.kind(), rule.model(), false));
            }
        }
        return Optional.empty();
    }

    private static String key(String vendor, String device) {
        return hex(vendor) + ":" + hex(device);
    }

    private static String hex(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        return t.startsWith("0x") ? t.substring(2) : t;
    }
}
