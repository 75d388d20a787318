package io.gpucloud.worker.nvidiasmi;

import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.pci.Bdf;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * nvidia-smi for a simulated host. Like the real tool it only sees what the kernel driver sees: it
 * fails with exit 9 unless {@code sys/module/nvidia} exists under the host root, and it lists only
 * the GPUs whose {@code driver} link points at {@code nvidia} right now, so rebinding a GPU to
 * vfio-pci in the simulated sysfs hides it here too. Emulates {@code -q} (alias {@code --query});
 * any other invocation throws, so a caller never mistakes an unemulated answer for the real one.
 */
public final class SimulatedNvidiaSmi implements NvidiaSmi {

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

    public SimulatedNvidiaSmi(Path root, List<Gpu> gpus, ModuleIdSpelling spelling) {
        this(root, gpus, spelling, ZonedDateTime::now);
    }

    SimulatedNvidiaSmi(Path root, List<Gpu> gpus, ModuleIdSpelling spelling, Supplier<ZonedDateTime> clock) {
        this.root = root;
        this.gpus = gpus.stream().sorted(Comparator.comparing(Gpu::bdf)).toList();
        this.spelling = spelling;
        this.clock = clock;
    }

    @Override
    public CommandResult run(String... args) {
        List<String> a = Arrays.asList(args);
        if (!(a.equals(List.of("-q")) || a.equals(List.of("--query")))) {
            throw new UnsupportedOperationException("the nvidia-smi simulator does not emulate: nvidia-smi "
                    + String.join(" ", args));
        }
        if (!Files.isDirectory(root.resolve("sys/module/nvidia"))) {
            return new CommandResult(NvidiaSmiException.DRIVER_NOT_LOADED, DRIVER_NOT_LOADED_MESSAGE, "");
        }
        List<Gpu> visible = gpus.stream().filter(this::boundToNvidia).toList();
        if (visible.isEmpty()) {
            return new CommandResult(6, "No devices were found\n", "");
        }
        return new CommandResult(0, query(visible), "");
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
        t.kv(2, "Current", "Disabled");
        t.kv(2, "Pending", "Disabled");
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
            case PLATFORM_INFO -> {
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
        t.section(1, "GPU Reset Status");
        t.kv(2, "Reset Required", "No");
        t.kv(2, "Drain and Reset Recommended", "No");
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
        t.kv(2, "Power Draw", "71.52 W");
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
