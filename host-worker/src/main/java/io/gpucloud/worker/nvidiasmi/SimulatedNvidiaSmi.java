package io.gpucloud.worker.nvidiasmi;

import io.gpucloud.worker.catalog.VirtualizationCatalog;
import io.gpucloud.worker.catalog.VirtualizationCatalog.MigGpu;
import io.gpucloud.worker.catalog.VirtualizationCatalog.MigPlacement;
import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.pci.Bdf;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Supplier;

/**
 * nvidia-smi for a simulated host. Like the real tool it only sees what the kernel driver sees: it
 * fails with exit 9 unless {@code sys/module/nvidia} exists under the host root, and it lists only
 * the GPUs whose {@code driver} link points at {@code nvidia} right now, so rebinding a GPU to
 * vfio-pci in the simulated sysfs hides it here too. Emulates {@code -q} (alias {@code --query}) and
 * MIG management (see {@link #run}); any other invocation throws, so a caller never mistakes an
 * unemulated answer for the real one.
 *
 * <p>MIG follows the real tool: {@code -i GPU -mig 1} enables at once ("Enabled MIG Mode for GPU ...")
 * unless a process holds the GPU ({@link #hold}): then the change stays <em>pending</em> with nvidia-smi's
 * "In use by another client" warning until a GPU reset ({@code -i GPU -r}) with nobody holding it. A GPU
 * without MIG (no entry in the catalog's MIG table) answers "Not Supported". GPU instances are placed
 * with the catalog's MIG profile table ({@link VirtualizationCatalog#placeNext}): one that does not fit
 * answers "Insufficient Resources", and those created before it stay, as on a real GPU. A GPU on vfio-pci
 * (passed through to a VM) is invisible: "No devices were found".
 *
 * <p>Exit codes: nvidia-smi's man page documents 0, 2 (invalid argument), 3 (not supported), 6 (not
 * found), 9 (driver not loaded) and 255 (other). Failures the page does not list take the NVML return
 * code of the same error, which is what the tool reports for them: 19 (NVML_ERROR_IN_USE, "In use by
 * another client") and 23 (NVML_ERROR_INSUFFICIENT_RESOURCES). These are our choice where the page is silent.
 */
public final class SimulatedNvidiaSmi implements NvidiaSmi {

    /** Exit status for an invalid argument (unknown profile id, malformed option). */
    public static final int EXIT_INVALID_ARGUMENT = 2;
    /** Exit status when the GPU lacks the feature (MIG on a GPU without it). */
    public static final int EXIT_NOT_SUPPORTED = 3;
    /** Exit status when no device or instance matches. */
    public static final int EXIT_NOT_FOUND = 6;
    /** NVML_ERROR_IN_USE: a process or an existing instance holds what the command wants to change. */
    public static final int EXIT_IN_USE = 19;
    /** NVML_ERROR_INSUFFICIENT_RESOURCES: the GPU instance does not fit next to the ones present. */
    public static final int EXIT_INSUFFICIENT_RESOURCES = 23;
    /** Any other failure. */
    public static final int EXIT_OTHER = 255;

    static final String DRIVER_NOT_LOADED_MESSAGE = "NVIDIA-SMI has failed because it couldn't communicate with the "
            + "NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n\n";

    /**
     * One GPU as nvidia-smi describes it.
     *
     * @param deviceId  PCI device id, 4 hex digits ("2330")
     * @param moduleId  module (physical) id, null where the board has none (PCIe cards print N/A)
     */
    public record Gpu(String bdf, String productName, String architecture, String deviceId, String uuid,
                      String serial, Integer moduleId, int memoryMiB, int bar1MiB) {
    }

    private static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("EEE MMM ppd HH:mm:ss yyyy",
            Locale.ENGLISH);

    private final Path root;
    private final List<Gpu> gpus;
    private final ModuleIdSpelling spelling;
    private final Supplier<ZonedDateTime> clock;
    private final VirtualizationCatalog catalog = VirtualizationCatalog.builtin();
    private final Map<String, MigState> mig = new HashMap<>();

    /** One GPU's MIG state: mode now and after the next reset, its instances, the processes holding it. */
    private static final class MigState {
        boolean current;
        boolean pending;
        final List<Instance> instances = new ArrayList<>();
        final List<String> holders = new ArrayList<>();
    }

    /** A GPU instance and, with {@code -C}, its default compute instance. */
    private record Instance(int giId, int profileId, int start, boolean computeInstance) {
    }

    /** What a test sees of one GPU's MIG state. */
    public record MigStatus(boolean current, boolean pending, List<MigPlacement> instances) {
    }

    public SimulatedNvidiaSmi(Path root, List<Gpu> gpus, ModuleIdSpelling spelling) {
        this(root, gpus, spelling, ZonedDateTime::now);
    }

    SimulatedNvidiaSmi(Path root, List<Gpu> gpus, ModuleIdSpelling spelling, Supplier<ZonedDateTime> clock) {
        this.root = root;
        this.gpus = gpus.stream().sorted(Comparator.comparing(Gpu::bdf)).toList();
        this.spelling = spelling;
        this.clock = clock;
    }

    /**
     * Emulates {@code -q}/{@code --query}; {@code -i GPU -mig 0|1}; {@code -i GPU -r};
     * {@code --query-gpu=pci.bus_id,mig.mode.current,mig.mode.pending --format=csv,noheader -i GPU};
     * {@code mig -i GPU -lgi}, {@code mig -i GPU -cgi IDS [-C]}, {@code mig -i GPU -dci},
     * {@code mig -i GPU -dgi}. GPU is an index among the visible GPUs, a PCI bus id or a GPU UUID.
     */
    @Override
    public synchronized CommandResult run(String... args) {
        List<String> a = Arrays.asList(args);
        boolean query = a.equals(List.of("-q")) || a.equals(List.of("--query"));
        boolean migCommand = !a.isEmpty() && a.get(0).equals("mig");
        boolean modeCommand = a.contains("-mig") || a.contains("-r")
                || a.stream().anyMatch(x -> x.startsWith("--query-gpu="));
        if (!query && !migCommand && !modeCommand) {
            throw new UnsupportedOperationException("the nvidia-smi simulator does not emulate: nvidia-smi "
                    + String.join(" ", args));
        }
        if (!Files.isDirectory(root.resolve("sys/module/nvidia"))) {
            return new CommandResult(NvidiaSmiException.DRIVER_NOT_LOADED, DRIVER_NOT_LOADED_MESSAGE, "");
        }
        List<Gpu> visible = gpus.stream().filter(this::boundToNvidia).toList();
        if (query) {
            if (visible.isEmpty()) {
                return new CommandResult(6, "No devices were found\n", "");
            }
            return new CommandResult(0, query(visible), "");
        }
        String selector = option(a, "-i");
        if (selector == null) {
            throw new UnsupportedOperationException("the nvidia-smi simulator needs -i GPU for: nvidia-smi "
                    + String.join(" ", args));
        }
        Optional<Gpu> gpu = select(visible, selector);
        if (gpu.isEmpty()) {
            return new CommandResult(EXIT_NOT_FOUND, "No devices were found\n", "");
        }
        int index = visible.indexOf(gpu.get());
        if (migCommand) {
            return migCommand(a, gpu.get(), index);
        }
        if (a.contains("-mig")) {
            return setMigMode(gpu.get(), option(a, "-mig"));
        }
        if (a.contains("-r")) {
            return reset(gpu.get());
        }
        return queryMig(gpu.get(), a);
    }

    // ---- test hooks: processes on a GPU -----------------------------------------------------------------

    /** A process (a CUDA job, a monitoring agent) starts using the GPU: MIG changes stay pending, resets fail. */
    public synchronized void hold(String bdf, String process) {
        state(Bdf.normalize(bdf)).holders.add(process);
    }

    /** Every process on the GPU exits. */
    public synchronized void release(String bdf) {
        state(Bdf.normalize(bdf)).holders.clear();
    }

    public synchronized MigStatus migStatus(String bdf) {
        MigState st = state(Bdf.normalize(bdf));
        return new MigStatus(st.current, st.pending,
                st.instances.stream().map(i -> new MigPlacement(i.profileId(), i.start())).toList());
    }

    // ---- MIG mode ---------------------------------------------------------------------------------------

    private CommandResult setMigMode(Gpu gpu, String value) {
        String bus = Bdf.toNvidiaFormat(gpu.bdf());
        if (!"0".equals(value) && !"1".equals(value)) {
            return new CommandResult(EXIT_INVALID_ARGUMENT, "", "Invalid combination of input arguments. "
                    + "Please run 'nvidia-smi -h' for help.\n");
        }
        boolean enable = value.equals("1");
        String verb = enable ? "enable" : "disable";
        if (migGpu(gpu).isEmpty()) {
            return new CommandResult(EXIT_NOT_SUPPORTED, "Unable to " + verb + " MIG Mode for GPU " + bus
                    + ": Not Supported\nTreating as warning and moving on.\nAll done.\n", "");
        }
        MigState st = state(gpu.bdf());
        if (!enable && !st.instances.isEmpty()) {
            return new CommandResult(EXIT_IN_USE, "Unable to disable MIG Mode for GPU " + bus
                    + ": In use by another client\nTerminating early due to previous errors.\n", "");
        }
        st.pending = enable;
        if (!st.holders.isEmpty() && st.current != enable) {
            // the driver could not reset the GPU under its users: the change waits for a reset
            return new CommandResult(0, "Warning: MIG mode is in pending " + verb + " state for GPU " + bus
                    + ":In use by another client\n" + bus + " is currently being used by one or more other processes "
                    + "(e.g. CUDA application or a monitoring application such as another instance of nvidia-smi). "
                    + "Please first kill all processes using the device and retry the command or reboot the system "
                    + "to make MIG mode effective.\nAll done.\n", "");
        }
        st.current = enable;
        return new CommandResult(0, (enable ? "Enabled" : "Disabled") + " MIG Mode for GPU " + bus + "\nAll done.\n",
                "");
    }

    private CommandResult reset(Gpu gpu) {
        String bus = Bdf.toNvidiaFormat(gpu.bdf());
        MigState st = state(gpu.bdf());
        if (!st.holders.isEmpty()) {
            return new CommandResult(EXIT_IN_USE, "The following GPUs could not be reset:\n  GPU " + bus
                    + ": In use by another client\n\n1 device is currently being used by one or more other processes "
                    + "(e.g., Fabric Manager, CUDA application, graphics application such as an X server, or a "
                    + "monitoring application such as another instance of nvidia-smi). Please first kill all processes "
                    + "using this device and all compute applications running in the system.\n", "");
        }
        st.current = st.pending;
        return new CommandResult(0, "GPU " + bus + " was successfully reset.\nAll done.\n", "");
    }

    private CommandResult queryMig(Gpu gpu, List<String> a) {
        String fields = a.stream().filter(x -> x.startsWith("--query-gpu=")).findFirst().orElseThrow()
                .substring("--query-gpu=".length());
        if (!fields.equals("pci.bus_id,mig.mode.current,mig.mode.pending")
                || !a.contains("--format=csv,noheader")) {
            throw new UnsupportedOperationException("the nvidia-smi simulator does not emulate: nvidia-smi "
                    + String.join(" ", a));
        }
        MigState st = state(gpu.bdf());
        boolean capable = migGpu(gpu).isPresent();
        String current = capable ? (st.current ? "Enabled" : "Disabled") : "[N/A]";
        String pending = capable ? (st.pending ? "Enabled" : "Disabled") : "[N/A]";
        return new CommandResult(0, Bdf.toNvidiaFormat(gpu.bdf()) + ", " + current + ", " + pending + "\n", "");
    }

    // ---- MIG instances ----------------------------------------------------------------------------------

    private CommandResult migCommand(List<String> a, Gpu gpu, int index) {
        MigState st = state(gpu.bdf());
        if (migGpu(gpu).isEmpty() || !st.current) {
            // A real H200 with MIG off answered the listing with exit 0 (fixture nvidia-smi-probes.txt).
            return new CommandResult(a.contains("-lgi") ? 0 : EXIT_NOT_FOUND, "No MIG-enabled devices found.\n", "");
        }
        MigGpu model = migGpu(gpu).orElseThrow();
        if (a.contains("-lgi")) {
            return listInstances(st, model, index);
        }
        if (a.contains("-cgi")) {
            return createInstances(st, model, index, option(a, "-cgi"), a.contains("-C"));
        }
        if (a.contains("-dci")) {
            return destroyComputeInstances(st, model, index);
        }
        if (a.contains("-dgi")) {
            return destroyGpuInstances(st, index);
        }
        throw new UnsupportedOperationException("the nvidia-smi simulator does not emulate: nvidia-smi "
                + String.join(" ", a));
    }

    private CommandResult listInstances(MigState st, MigGpu model, int index) {
        if (st.instances.isEmpty()) {
            return new CommandResult(EXIT_NOT_FOUND, "No GPU instances found: Not Found\n", "");
        }
        StringBuilder sb = new StringBuilder();
        sb.append("+-------------------------------------------------------+\n");
        sb.append("| GPU instances:                                        |\n");
        sb.append("| GPU   Name             Profile  Instance   Placement  |\n");
        sb.append("|                          ID       ID       Start:Size |\n");
        sb.append("|=======================================================|\n");
        for (Instance i : st.instances) {
            int size = catalog.migProfile(i.profileId()).orElseThrow().memorySlices();
            sb.append(String.format(Locale.ROOT, "| %3d  %-16s %5d %8d %10s     |%n", index,
                    "MIG " + model.profileName(i.profileId()), i.profileId(), i.giId(), i.start() + ":" + size));
        }
        sb.append("+-------------------------------------------------------+\n");
        return new CommandResult(0, sb.toString(), "");
    }

    private CommandResult createInstances(MigState st, MigGpu model, int index, String ids, boolean withCompute) {
        StringBuilder out = new StringBuilder();
        if (ids == null || ids.isBlank()) {
            return new CommandResult(EXIT_INVALID_ARGUMENT, "", "Invalid combination of input arguments. "
                    + "Please run 'nvidia-smi -h' for help.\n");
        }
        for (String idText : ids.split(",")) {
            int profileId;
            try {
                profileId = Integer.parseInt(idText.trim());
            } catch (NumberFormatException e) {
                return new CommandResult(EXIT_INVALID_ARGUMENT, out + "Unable to create a GPU instance on GPU "
                        + pad(index) + " using profile " + idText.trim() + ": Invalid Argument\n"
                        + "Failed to create GPU instances: Invalid Argument\n", "");
            }
            if (catalog.migProfile(profileId).isEmpty()) {
                return new CommandResult(EXIT_INVALID_ARGUMENT, out + "Unable to create a GPU instance on GPU "
                        + pad(index) + " using profile " + profileId + ": Invalid Argument\n"
                        + "Failed to create GPU instances: Invalid Argument\n", "");
            }
            List<MigPlacement> placed = st.instances.stream()
                    .map(i -> new MigPlacement(i.profileId(), i.start())).toList();
            OptionalInt start = catalog.placeNext(profileId, placed);
            if (start.isEmpty()) {
                return new CommandResult(EXIT_INSUFFICIENT_RESOURCES, out + "Unable to create a GPU instance on GPU "
                        + pad(index) + " using profile " + profileId + ": Insufficient Resources\n"
                        + "Failed to create GPU instances: Insufficient Resources\n", "");
            }
            int giId = 1;
            while (hasGi(st, giId)) {
                giId++;
            }
            st.instances.add(new Instance(giId, profileId, start.getAsInt(), withCompute));
            String name = "MIG " + model.profileName(profileId);
            out.append("Successfully created GPU instance ID ").append(pad(giId)).append(" on GPU ").append(pad(index))
                    .append(" using profile ").append(name).append(" (ID ").append(pad(profileId)).append(")\n");
            if (withCompute) {
                out.append("Successfully created compute instance ID  0 on GPU ").append(pad(index))
                        .append(" GPU instance ID ").append(pad(giId)).append(" using profile ").append(name)
                        .append(" (ID  0)\n");
            }
        }
        return new CommandResult(0, out.toString(), "");
    }

    private CommandResult destroyComputeInstances(MigState st, MigGpu model, int index) {
        List<Instance> withCi = st.instances.stream().filter(Instance::computeInstance).toList();
        if (withCi.isEmpty()) {
            return new CommandResult(EXIT_NOT_FOUND, "No compute instances found: Not Found\n", "");
        }
        StringBuilder out = new StringBuilder();
        for (Instance i : withCi) {
            if (!st.holders.isEmpty()) {
                return new CommandResult(EXIT_IN_USE, out + "Unable to destroy compute instance ID  0 from GPU "
                        + pad(index) + " GPU instance ID " + pad(i.giId()) + ": In use by another client\n", "");
            }
            st.instances.set(st.instances.indexOf(i), new Instance(i.giId(), i.profileId(), i.start(), false));
            out.append("Successfully destroyed compute instance ID  0 from GPU ").append(pad(index))
                    .append(" GPU instance ID ").append(pad(i.giId())).append("\n");
        }
        return new CommandResult(0, out.toString(), "");
    }

    private CommandResult destroyGpuInstances(MigState st, int index) {
        if (st.instances.isEmpty()) {
            return new CommandResult(EXIT_NOT_FOUND, "No GPU instances found: Not Found\n", "");
        }
        StringBuilder out = new StringBuilder();
        for (Instance i : List.copyOf(st.instances)) {
            if (i.computeInstance()) {
                return new CommandResult(EXIT_IN_USE, out + "Unable to destroy GPU instance ID " + pad(i.giId())
                        + " from GPU " + pad(index) + ": In use by another client\n", "");
            }
            st.instances.remove(i);
            out.append("Successfully destroyed GPU instance ID ").append(pad(i.giId())).append(" from GPU ")
                    .append(pad(index)).append("\n");
        }
        return new CommandResult(0, out.toString(), "");
    }

    private static boolean hasGi(MigState st, int giId) {
        return st.instances.stream().anyMatch(i -> i.giId() == giId);
    }

    /** nvidia-smi right-aligns ids in two columns ("GPU  0", "ID  9"). */
    private static String pad(int n) {
        return String.format(Locale.ROOT, "%2d", n);
    }

    private MigState state(String bdf) {
        return mig.computeIfAbsent(bdf, k -> new MigState());
    }

    private Optional<MigGpu> migGpu(Gpu gpu) {
        return catalog.migGpuByPciId("10de:" + gpu.deviceId());
    }

    private Optional<Gpu> select(List<Gpu> visible, String selector) {
        String s = selector.trim();
        if (s.matches("\\d+")) {
            int i = Integer.parseInt(s);
            return i < visible.size() ? Optional.of(visible.get(i)) : Optional.empty();
        }
        Optional<String> bdf = Bdf.parse(s);
        return visible.stream().filter(g -> bdf.map(b -> b.equals(g.bdf())).orElse(g.uuid().equals(s))).findFirst();
    }

    private static String option(List<String> a, String name) {
        int i = a.indexOf(name);
        return i >= 0 && i + 1 < a.size() ? a.get(i + 1) : null;
    }

    private boolean boundToNvidia(Gpu gpu) {
        Path link = root.resolve("sys/bus/pci/devices").resolve(gpu.bdf()).resolve("driver");
        try {
            return Files.readSymbolicLink(link).getFileName().toString().equals("nvidia");
        } catch (Exception e) {
            return false;
        }
    }

    private String query(List<Gpu> visible) {
        Text t = new Text(spelling.colonColumn());
        t.raw("");
        t.raw("==============NVSMI LOG==============");
        t.raw("");
        t.kv(0, "Timestamp", TIMESTAMP.format(clock.get()));
        t.kv(0, "Driver Version", spelling.driverVersion());
        t.kv(0, "CUDA Version", spelling.cudaVersion());
        t.raw("");
        t.kv(0, "Attached GPUs", Integer.toString(visible.size()));
        for (int i = 0; i < visible.size(); i++) {
            gpu(t, visible.get(i), i);
        }
        t.raw("");
        return t.toString();
    }

    private void gpu(Text t, Gpu g, int minor) {
        String busId = Bdf.toNvidiaFormat(g.bdf());
        String moduleId = g.moduleId() == null ? "N/A" : g.moduleId().toString();
        t.raw("GPU " + busId);
        t.kv(1, "Product Name", g.productName());
        t.kv(1, "Product Brand", "NVIDIA");
        t.kv(1, "Product Architecture", g.architecture());
        t.kv(1, "Display Mode", "Enabled");
        t.kv(1, "Display Active", "Disabled");
        t.kv(1, "Persistence Mode", "Enabled");
        t.kv(1, "Addressing Mode", "None");
        t.section(1, "MIG Mode");
        MigState st = state(g.bdf());
        boolean capable = migGpu(g).isPresent();
        t.kv(2, "Current", capable ? (st.current ? "Enabled" : "Disabled") : "N/A");
        t.kv(2, "Pending", capable ? (st.pending ? "Enabled" : "Disabled") : "N/A");
        t.kv(1, "Accounting Mode", "Disabled");
        t.kv(1, "Accounting Mode Buffer Size", "4000");
        t.section(1, "Driver Model");
        t.kv(2, "Current", "N/A");
        t.kv(2, "Pending", "N/A");
        t.kv(1, "Serial Number", g.serial());
        t.kv(1, "GPU UUID", g.uuid());
        t.kv(1, "Minor Number", Integer.toString(minor));
        t.kv(1, "VBIOS Version", "96.00.99.00.01");
        t.kv(1, "MultiGPU Board", "No");
        t.kv(1, "Board ID", String.format(Locale.ROOT, "0x%x", Bdf.bus(g.bdf()) << 8));
        t.kv(1, "Board Part Number", "692-2G520-0200-000");
        t.kv(1, "GPU Part Number", g.deviceId().toUpperCase(Locale.ROOT) + "-885-A1");
        t.kv(1, "FRU Part Number", "N/A");
        switch (spelling) {
            case MODULE_ID_UPPER_CASE -> t.kv(1, "Module ID", moduleId);
            case MODULE_ID -> t.kv(1, "Module Id", moduleId);
            case PLATFORM_INFO, R580 -> {
                t.section(1, "Platform Info");
                t.kv(2, "Chassis Serial Number", "N/A");
                t.kv(2, "Slot Number", "N/A");
                t.kv(2, "Tray Index", "N/A");
                t.kv(2, "Host ID", "N/A");
                t.kv(2, "Peer Type", "N/A");
                t.kv(2, "Module Id", moduleId);
                t.kv(2, "GPU Fabric GUID", "N/A");
            }
        }
        t.section(1, "Inforom Version");
        t.kv(2, "Image Version", "G520.0200.00.05");
        t.kv(2, "OEM Object", "2.1");
        t.kv(2, "ECC Object", "7.16");
        t.kv(2, "Power Management Object", "N/A");
        t.section(1, "GPU Operation Mode");
        t.kv(2, "Current", "N/A");
        t.kv(2, "Pending", "N/A");
        t.kv(1, "GPU C2C Mode", "Disabled");
        t.section(1, "GPU Virtualization Mode");
        t.kv(2, "Virtualization Mode", "None");
        t.kv(2, "Host VGPU Mode", "N/A");
        if (spelling == ModuleIdSpelling.R580) {
            t.kv(1, "GPU Recovery Action", "None");
        } else {
            t.section(1, "GPU Reset Status");
            t.kv(2, "Reset Required", "No");
            t.kv(2, "Drain and Reset Recommended", "No");
        }
        t.kv(1, "GSP Firmware Version", spelling.driverVersion());
        t.section(1, "PCI");
        t.kv(2, "Bus", String.format(Locale.ROOT, "0x%02X", Bdf.bus(g.bdf())));
        t.kv(2, "Device", "0x00");
        t.kv(2, "Domain", String.format(Locale.ROOT, "0x%04X", Bdf.domain(g.bdf())));
        t.kv(2, "Base Classcode", "0x3");
        t.kv(2, "Sub Classcode", "0x2");
        t.kv(2, "Device Id", "0x" + g.deviceId().toUpperCase(Locale.ROOT) + "10DE");
        t.kv(2, "Bus Id", busId);
        t.kv(2, "Sub System Id", "0x16C110DE");
        t.section(2, "GPU Link Info");
        t.section(3, "PCIe Generation");
        t.kv(4, "Max", "5");
        t.kv(4, "Current", "5");
        t.section(3, "Link Width");
        t.kv(4, "Max", "16x");
        t.kv(4, "Current", "16x");
        t.kv(1, "Fan Speed", "N/A");
        t.kv(1, "Performance State", "P0");
        t.section(1, "FB Memory Usage");
        t.kv(2, "Total", g.memoryMiB() + " MiB");
        t.kv(2, "Reserved", "551 MiB");
        t.kv(2, "Used", "0 MiB");
        t.kv(2, "Free", (g.memoryMiB() - 551) + " MiB");
        t.section(1, "BAR1 Memory Usage");
        t.kv(2, "Total", g.bar1MiB() + " MiB");
        t.kv(2, "Used", "1 MiB");
        t.kv(2, "Free", (g.bar1MiB() - 1) + " MiB");
        t.kv(1, "Compute Mode", "Default");
        t.section(1, "Temperature");
        t.kv(2, "GPU Current Temp", "31 C");
        t.kv(2, "GPU T.Limit Temp", "56 C");
        t.section(1, "GPU Power Readings");
        if (spelling == ModuleIdSpelling.R580) {
            t.kv(2, "Average Power Draw", "71.40 W");
            t.kv(2, "Instantaneous Power Draw", "71.52 W");
        } else {
            t.kv(2, "Power Draw", "71.52 W");
        }
        t.kv(2, "Current Power Limit", "700.00 W");
        t.kv(1, "Processes", "None");
    }

    /** nvidia-smi's layout: four spaces per level, keys padded so every colon sits in one column. */
    private static final class Text {
        private final StringBuilder sb = new StringBuilder(16 * 1024);
        private final int colon;

        Text(int colon) {
            this.colon = colon;
        }

        void raw(String line) {
            sb.append(line).append('\n');
        }

        void section(int level, String name) {
            sb.append("    ".repeat(level)).append(name).append('\n');
        }

        void kv(int level, String key, String value) {
            String left = "    ".repeat(level) + key;
            sb.append(left).append(" ".repeat(Math.max(1, colon - left.length()))).append(": ").append(value).append('\n');
        }

        @Override
        public String toString() {
            return sb.toString();
        }
    }
}
