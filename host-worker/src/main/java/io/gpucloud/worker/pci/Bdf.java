package io.gpucloud.worker.pci;

import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PCI addresses as the worker stores them: lower-case hex, domain with at least four digits
 * ("0000:18:00.0", "0001:18:00.0", VMD's "10000:00:00.0"). Tools disagree on the domain width
 * (nvidia-smi and Fabric Manager print eight digits), so every address crossing a tool boundary
 * goes through {@link #normalize(String)} before it is compared.
 */
public final class Bdf {

    private static final Pattern FULL =
            Pattern.compile("([0-9a-fA-F]{1,8}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\\.([0-7])");
    private static final Pattern NO_DOMAIN = Pattern.compile("([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\\.([0-7])");

    private Bdf() {
    }

    /** Normalized form of an address, or empty when it is not one (a bare "bus:dev.fn" means domain 0). */
    public static Optional<String> parse(String text) {
        if (text == null) {
            return Optional.empty();
        }
        String s = text.trim();
        Matcher m = FULL.matcher(s);
        if (m.matches()) {
            long domain = Long.parseLong(m.group(1), 16);
            return Optional.of(format(domain, m.group(2), m.group(3), m.group(4)));
        }
        m = NO_DOMAIN.matcher(s);
        if (m.matches()) {
            return Optional.of(format(0, m.group(1), m.group(2), m.group(3)));
        }
        return Optional.empty();
    }

    /** Like {@link #parse(String)} but for input that must be an address. */
    public static String normalize(String text) {
        return parse(text).orElseThrow(() -> new IllegalArgumentException("not a PCI address: " + text));
    }

    public static boolean isBdf(String text) {
        return text != null && FULL.matcher(text).matches();
    }

    /** The domain as nvidia-smi and Fabric Manager print it: eight hex digits, upper-case bus/device. */
    public static String toNvidiaFormat(String bdf) {
        Matcher m = FULL.matcher(normalize(bdf));
        if (!m.matches()) {
            throw new IllegalStateException(bdf);
        }
        return String.format(Locale.ROOT, "%08X:%s:%s.%s", Long.parseLong(m.group(1), 16),
                m.group(2).toUpperCase(Locale.ROOT), m.group(3).toUpperCase(Locale.ROOT), m.group(4));
    }

    /** PCI domain number of a normalized address. */
    public static int domain(String bdf) {
        return (int) Long.parseLong(bdf.substring(0, bdf.indexOf(':')), 16);
    }

    /** Bus number of a normalized address. */
    public static int bus(String bdf) {
        String[] parts = bdf.split(":");
        return Integer.parseInt(parts[1], 16);
    }

    private static String format(long domain, String bus, String device, String function) {
        return String.format(Locale.ROOT, "%04x:%02x:%02x.%s", domain, Integer.parseInt(bus, 16),
                Integer.parseInt(device, 16), function);
    }
}
