package io.gpucloud.worker.nvidiasmi;

import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.pci.Bdf;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Learns GPU module ids (Fabric Manager's physical ids) from {@code nvidia-smi -q}. Module ids do not
 * follow PCI order and differ between board vendors, so this is the only trustworthy source while the
 * GPUs are bound to {@code nvidia}; the control plane persists what it returns.
 */
public final class ModuleIdReader {

    /** "GPU 00000000:18:00.0": one header per GPU, eight-digit domain. */
    private static final Pattern GPU_HEADER = Pattern.compile("^GPU ([0-9A-Fa-f]{1,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\\.[0-7])\\s*$");
    /** "Module ID : 2" (older drivers) or "Module Id : 2", also inside R565's "Platform Info" block. */
    private static final Pattern MODULE = Pattern.compile("^\\s+Module I[Dd]\\s*:\\s*(\\S.*?)\\s*$");
    /** "Virtualization Mode : Pass-Through" inside "GPU Virtualization Mode": None on bare metal. */
    private static final Pattern VIRTUALIZATION = Pattern.compile("^\\s+Virtualization Mode\\s*:\\s*(\\S.*?)\\s*$");
    /** nvidia-smi's exit status when it found no GPU bound to nvidia. */
    private static final int NO_DEVICES = 6;

    /**
     * What discovery takes from one {@code nvidia-smi -q}: module id per GPU (BDF, four-digit domain) and
     * each GPU's virtualization mode ("None" on bare metal, "Pass-Through" when this machine is itself a
     * VM the GPU was passed into).
     */
    public record Query(Map<String, Integer> moduleIds, Map<String, String> virtualizationModes) {
    }

    private final NvidiaSmi nvidiaSmi;

    public ModuleIdReader(NvidiaSmi nvidiaSmi) {
        this.nvidiaSmi = nvidiaSmi;
    }

    /**
     * @return BDF (four-digit domain) → module id for every GPU nvidia-smi can see; GPUs whose id reads
     *         "N/A" (PCIe cards) are left out; empty when no GPU is bound to nvidia
     * @throws NvidiaSmiException when nvidia-smi fails, e.g. exit 9 when the driver is not loaded
     */
    public Map<String, Integer> read() throws NvidiaSmiException {
        return query().moduleIds();
    }

    /** Module ids and virtualization modes from one {@code nvidia-smi -q}; both empty when no GPU is on nvidia. */
    public Query query() throws NvidiaSmiException {
        CommandResult r = nvidiaSmi.run("-q");
        if (r.exitCode() == NO_DEVICES) {
            return new Query(Map.of(), Map.of());
        }
        if (!r.ok()) {
            throw new NvidiaSmiException(r.exitCode(), r.message());
        }
        return parseQuery(r.stdout());
    }

    /** Parses {@code nvidia-smi -q} text: module id per GPU. */
    public static Map<String, Integer> parse(String output) {
        return parseQuery(output).moduleIds();
    }

    /** Parses {@code nvidia-smi -q} text. */
    public static Query parseQuery(String output) {
        Map<String, Integer> ids = new LinkedHashMap<>();
        Map<String, String> modes = new LinkedHashMap<>();
        String gpu = null;
        for (String line : output.split("\r?\n")) {
            Matcher header = GPU_HEADER.matcher(line);
            if (header.matches()) {
                gpu = Bdf.normalize(header.group(1));
                continue;
            }
            if (gpu == null) {
                continue;
            }
            Matcher module = MODULE.matcher(line);
            if (module.matches()) {
                try {
                    ids.put(gpu, Integer.parseInt(module.group(1)));
                } catch (NumberFormatException notAnId) {
                    // "N/A": this GPU has no module id (PCIe card); leave it unknown
                }
            }
            Matcher virtualization = VIRTUALIZATION.matcher(line);
            if (virtualization.matches()) {
                modes.put(gpu, virtualization.group(1));
            }
        }
        return new Query(ids, modes);
    }
}
