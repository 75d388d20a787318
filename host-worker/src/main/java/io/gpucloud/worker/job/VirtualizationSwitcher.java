package io.gpucloud.worker.job;

import io.gpucloud.protocol.job.Job;
import io.gpucloud.worker.action.ActionException;
import io.gpucloud.worker.action.ErrorCodes;
import io.gpucloud.worker.action.StepLog;
import io.gpucloud.worker.catalog.VirtualizationCatalog;
import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.nvidiasmi.NvidiaSmi;
import io.gpucloud.worker.pci.Bdf;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * SET_VIRTUALIZATION_MODE on this host, through nvidia-smi (DESIGN.md §4 "MIG", "HAMi-core"). Idempotent:
 * each GPU is queried first and only what differs from the goal is done.
 * <ul>
 *   <li>{@code mig}: per GPU {@code nvidia-smi -i BUS -mig 1} (a change left pending because a process holds
 *       the GPU is followed by {@code nvidia-smi -i BUS -r}; if that is refused too, the job fails with the
 *       tool's words); instances that differ from the wanted profiles are destroyed ({@code mig -dci},
 *       {@code mig -dgi}) and {@code nvidia-smi mig -i BUS -cgi 19,19,9 -C} creates them in order;</li>
 *   <li>{@code passthrough}: instances destroyed and {@code -mig 0} on GPUs that have MIG on; the HAMi-core
 *       config is removed;</li>
 *   <li>{@code hami}: MIG off as for passthrough, and the HAMi-core config written to
 *       {@code <stateDir>/virtualization/hami-config.json} for the device plugin to read.</li>
 * </ul>
 * GPUs are named by PCI bus id ({@code -i 00000000:18:00.0}), which unlike an index does not shift when a
 * GPU moves to vfio-pci. Cambricon modes need Cambricon tooling this worker does not have: they fail with
 * {@link ErrorCodes#UNSUPPORTED_MODE} (the control plane never sends them to an NVIDIA host).
 */
final class VirtualizationSwitcher {

    private static final Pattern GI_ROW = Pattern.compile("^\\|\\s+\\d+\\s+MIG\\s+\\S+\\s+(\\d+)\\s+(\\d+)\\s+(\\d+):(\\d+)\\s+\\|");
    private static final JsonMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

    private final NvidiaSmi smi;
    private final Path dir;

    VirtualizationSwitcher(NvidiaSmi smi, Path dir) {
        this.smi = smi;
        this.dir = dir;
    }

    Path hamiConfigFile() {
        return dir.resolve("hami-config.json");
    }

    void apply(Job job, List<String> bdfs, StepLog log, Map<String, String> facts) throws ActionException {
        Job.Virtualization v = job.virtualization();
        if (v == null || v.mode() == null) {
            throw new ActionException(ErrorCodes.INVALID_JOB, "SET_VIRTUALIZATION_MODE without a mode");
        }
        facts.put("mode", v.mode());
        switch (v.mode()) {
            case VirtualizationCatalog.MIG -> {
                List<Integer> profiles = profiles(v.params());
                for (String bdf : bdfs) {
                    ensureMig(bdf, profiles, log, facts);
                }
                removeHamiConfig(log);
            }
            case VirtualizationCatalog.PASSTHROUGH -> {
                for (String bdf : bdfs) {
                    ensureMigOff(bdf, log, facts);
                }
                removeHamiConfig(log);
            }
            case VirtualizationCatalog.HAMI -> {
                for (String bdf : bdfs) {
                    ensureMigOff(bdf, log, facts);
                }
                writeHamiConfig(v.params(), bdfs, log);
            }
            default -> {
                log.note("switch to " + v.mode(), "", "no tooling for " + v.mode() + " on this worker", false);
                throw new ActionException(ErrorCodes.UNSUPPORTED_MODE, "this host worker cannot switch GPUs to "
                        + v.mode() + ": it manages NVIDIA GPUs through nvidia-smi only");
            }
        }
    }

    // ---- MIG --------------------------------------------------------------------------------------------

    private void ensureMig(String bdf, List<Integer> profiles, StepLog log, Map<String, String> facts)
            throws ActionException {
        String bus = Bdf.toNvidiaFormat(bdf);
        String[] mode = queryMode(bus, log);
        if (mode[0].equals("[N/A]")) {
            CommandResult r = run(log, "enable MIG on " + bus, false, "-i", bus, "-mig", "1");
            throw new ActionException(ErrorCodes.MIG_NOT_SUPPORTED, "GPU " + bus + " has no MIG: nvidia-smi -i " + bus
                    + " -mig 1: " + r.message() + " (exit " + r.exitCode() + ")");
        }
        if (!mode[0].equals("Enabled")) {
            CommandResult r = run(log, "enable MIG on " + bus, null, "-i", bus, "-mig", "1");
            if (!r.ok()) {
                throw smiFailure("nvidia-smi -i " + bus + " -mig 1", r);
            }
            mode = queryMode(bus, log);
            if (!mode[0].equals("Enabled")) {
                CommandResult reset = run(log, "reset " + bus + " so the pending MIG mode takes effect", null,
                        "-i", bus, "-r");
                mode = queryMode(bus, log);
                if (!mode[0].equals("Enabled")) {
                    throw new ActionException(ErrorCodes.DEVICE_BUSY, "MIG mode stays pending on GPU " + bus + ": "
                            + r.message() + "; nvidia-smi -i " + bus + " -r: " + reset.message() + " (exit "
                            + reset.exitCode() + ")");
                }
            }
        } else {
            log.note("MIG already enabled on " + bus, smiCommand("-i", bus, "--query-gpu=mig.mode.current"), "Enabled", true);
        }
        List<Integer> present = instances(bus, log);
        if (sorted(present).equals(sorted(profiles))) {
            log.note("GPU instances on " + bus + " already " + profiles, smiCommand("mig", "-i", bus, "-lgi"),
                    present.toString(), true);
        } else {
            if (!present.isEmpty()) {
                destroyInstances(bus, log);
            }
            String ids = String.join(",", profiles.stream().map(String::valueOf).toList());
            CommandResult r = run(log, "create GPU instances " + ids + " on " + bus, null, "mig", "-i", bus, "-cgi",
                    ids, "-C");
            if (!r.ok()) {
                throw smiFailure("nvidia-smi mig -i " + bus + " -cgi " + ids + " -C", r);
            }
        }
        facts.put("mig." + bdf, String.join(",", instances(bus, log).stream().map(String::valueOf).toList()));
    }

    private void ensureMigOff(String bdf, StepLog log, Map<String, String> facts) throws ActionException {
        String bus = Bdf.toNvidiaFormat(bdf);
        String[] mode = queryMode(bus, log);
        if (mode[0].equals("[N/A]")) {
            log.note("GPU " + bus + " has no MIG", smiCommand("-i", bus, "--query-gpu=mig.mode.current"), "[N/A]", true);
            facts.put("mig." + bdf, "n/a");
            return;
        }
        if (mode[0].equals("Disabled") && mode[1].equals("Disabled")) {
            log.note("MIG already disabled on " + bus, smiCommand("-i", bus, "--query-gpu=mig.mode.current"),
                    "Disabled", true);
            facts.put("mig." + bdf, "disabled");
            return;
        }
        if (mode[0].equals("Enabled") && !instances(bus, log).isEmpty()) {
            destroyInstances(bus, log);
        }
        CommandResult r = run(log, "disable MIG on " + bus, null, "-i", bus, "-mig", "0");
        if (!r.ok()) {
            throw smiFailure("nvidia-smi -i " + bus + " -mig 0", r);
        }
        mode = queryMode(bus, log);
        if (!mode[0].equals("Disabled")) {
            CommandResult reset = run(log, "reset " + bus + " so MIG mode off takes effect", null, "-i", bus, "-r");
            mode = queryMode(bus, log);
            if (!mode[0].equals("Disabled")) {
                throw new ActionException(ErrorCodes.DEVICE_BUSY, "MIG mode stays enabled on GPU " + bus + ": "
                        + r.message() + "; nvidia-smi -i " + bus + " -r: " + reset.message() + " (exit "
                        + reset.exitCode() + ")");
            }
        }
        facts.put("mig." + bdf, "disabled");
    }

    private void destroyInstances(String bus, StepLog log) throws ActionException {
        CommandResult ci = run(log, "destroy compute instances on " + bus, null, "mig", "-i", bus, "-dci");
        if (!ci.ok() && ci.exitCode() != 6) {
            throw smiFailure("nvidia-smi mig -i " + bus + " -dci", ci);
        }
        CommandResult gi = run(log, "destroy GPU instances on " + bus, null, "mig", "-i", bus, "-dgi");
        if (!gi.ok() && gi.exitCode() != 6) {
            throw smiFailure("nvidia-smi mig -i " + bus + " -dgi", gi);
        }
    }

    /** Profile ids of the GPU's instances, in listing order; exit 6 ("No GPU instances found") means none. */
    private List<Integer> instances(String bus, StepLog log) throws ActionException {
        String[] args = {"mig", "-i", bus, "-lgi"};
        CommandResult r = smi.run(args);
        if (r.exitCode() == 6) {
            return List.of();
        }
        if (!r.ok()) {
            log.note("list GPU instances on " + bus, smiCommand(args), r.message(), false);
            throw smiFailure(smiCommand(args), r);
        }
        List<Integer> out = new ArrayList<>();
        for (String line : r.stdout().split("\n")) {
            Matcher m = GI_ROW.matcher(line);
            if (m.find()) {
                out.add(Integer.parseInt(m.group(1)));
            }
        }
        return out;
    }

    /** [current, pending] MIG mode: Enabled, Disabled or [N/A]. */
    private String[] queryMode(String bus, StepLog log) throws ActionException {
        String[] args = {"--query-gpu=pci.bus_id,mig.mode.current,mig.mode.pending", "--format=csv,noheader", "-i", bus};
        CommandResult r = smi.run(args);
        if (!r.ok()) {
            log.note("query MIG mode of " + bus, smiCommand(args), r.message(), false);
            if (r.exitCode() == 6) {
                throw new ActionException(ErrorCodes.GPU_NOT_VISIBLE, "nvidia-smi -i " + bus + ": " + r.message()
                        + " (exit 6): the GPU is not on the nvidia driver; is it bound to vfio-pci for a VM?");
            }
            throw smiFailure(smiCommand(args), r);
        }
        String[] f = r.stdout().trim().split("\\s*,\\s*");
        if (f.length != 3) {
            log.note("query MIG mode of " + bus, smiCommand(args), r.stdout(), false);
            throw new ActionException(ErrorCodes.NVIDIA_SMI_ERROR, "unexpected answer from " + smiCommand(args) + ": "
                    + r.stdout().trim());
        }
        return new String[] {f[1], f[2]};
    }

    /** Runs nvidia-smi as one step; {@code ok} null means "as the exit status says". */
    private CommandResult run(StepLog log, String name, Boolean ok, String... args) {
        StepLog.Timer t = log.start(name, smiCommand(args));
        CommandResult r = smi.run(args);
        String output = (r.stdout() + r.stderr()).strip();
        t.done(name, r.exitCode(), output, ok == null ? r.ok() : ok);
        return r;
    }

    private static ActionException smiFailure(String command, CommandResult r) {
        String code = switch (r.exitCode()) {
            case 3 -> ErrorCodes.MIG_NOT_SUPPORTED;
            case 6 -> ErrorCodes.GPU_NOT_VISIBLE;
            case 19 -> ErrorCodes.DEVICE_BUSY;
            case 2, 23 -> ErrorCodes.MIG_PROFILE_REJECTED;
            default -> ErrorCodes.NVIDIA_SMI_ERROR;
        };
        String text = (r.stdout() + r.stderr()).strip().replace("\n", " ");
        return new ActionException(code, command + ": " + (text.isEmpty() ? r.message() : text) + " (exit "
                + r.exitCode() + ")");
    }

    private static String smiCommand(String... args) {
        return "nvidia-smi " + String.join(" ", args);
    }

    private static List<Integer> sorted(List<Integer> ids) {
        return ids.stream().sorted().toList();
    }

    private static List<Integer> profiles(Map<String, Object> params) throws ActionException {
        Object v = params.get("profiles");
        if (!(v instanceof List<?> list) || list.isEmpty()) {
            throw new ActionException(ErrorCodes.INVALID_JOB, "mig mode without a list of profiles");
        }
        List<Integer> out = new ArrayList<>();
        for (Object o : list) {
            if (!(o instanceof Number n)) {
                throw new ActionException(ErrorCodes.INVALID_JOB, "not a MIG profile id: " + o);
            }
            out.add(n.intValue());
        }
        return out;
    }

    // ---- HAMi-core ------------------------------------------------------------------------------------------

    private void writeHamiConfig(Map<String, Object> params, List<String> bdfs, StepLog log) throws ActionException {
        Map<String, Object> config = new LinkedHashMap<>(params);
        config.put("devices", bdfs);
        Path file = hamiConfigFile();
        StepLog.Timer t = log.start("write HAMi-core config", "write " + file);
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.writeString(tmp, JSON.writeValueAsString(config), StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            t.ok(null, JSON.writeValueAsString(params));
        } catch (IOException e) {
            t.failed(null, e.toString());
            throw new ActionException(ErrorCodes.INTERNAL_ERROR, "cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private void removeHamiConfig(StepLog log) throws ActionException {
        Path file = hamiConfigFile();
        try {
            if (Files.deleteIfExists(file)) {
                log.note("remove HAMi-core config", "rm " + file, "", true);
            }
        } catch (IOException e) {
            log.note("remove HAMi-core config", "rm " + file, e.toString(), false);
            throw new ActionException(ErrorCodes.INTERNAL_ERROR, "cannot remove " + file + ": " + e.getMessage(), e);
        }
    }
}
