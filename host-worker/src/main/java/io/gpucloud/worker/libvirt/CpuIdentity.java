package io.gpucloud.worker.libvirt;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The host CPU as NCCL's topology file names it ({@code arch}, {@code vendor}, {@code familyid},
 * {@code modelid}); with {@code host-passthrough} the guest sees the same CPU.
 */
public record CpuIdentity(String arch, String vendor, int familyId, int modelId) {

    /** Intel Xeon Sapphire Rapids (family 6, model 143), the CPU of most HGX H100/H200 boards. */
    public static final CpuIdentity SAPPHIRE_RAPIDS = new CpuIdentity("x86_64", "GenuineIntel", 6, 143);

    /** From {@code proc/cpuinfo} below {@code root}; {@code fallback} when it is missing or unreadable. */
    public static CpuIdentity read(Path root, CpuIdentity fallback) {
        List<String> lines;
        try {
            lines = Files.readAllLines(root.resolve("proc/cpuinfo"));
        } catch (IOException e) {
            return fallback;
        }
        String vendor = null;
        Integer family = null;
        Integer model = null;
        for (String line : lines) {
            if (line.isBlank() && vendor != null) {
                break; // the first processor is enough
            }
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String key = line.substring(0, colon).trim();
            String value = line.substring(colon + 1).trim();
            try {
                switch (key) {
                    case "vendor_id" -> vendor = value;
                    case "cpu family" -> family = Integer.parseInt(value);
                    case "model" -> model = Integer.parseInt(value);
                    default -> {
                    }
                }
            } catch (NumberFormatException e) {
                return fallback;
            }
        }
        return vendor == null || family == null || model == null ? fallback
                : new CpuIdentity("x86_64", vendor, family, model);
    }
}
