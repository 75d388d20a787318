package io.gpucloud.worker.discovery;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.protocol.DeviceKind;
import io.gpucloud.protocol.DiscoveryProblem;
import io.gpucloud.protocol.FabricMode;
import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.NumaNode;
import io.gpucloud.protocol.PciDevice;
import io.gpucloud.protocol.Platform;
import io.gpucloud.worker.HostWorkerMain;
import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.command.RecordedCommands;
import io.gpucloud.worker.fabric.Fmpm;
import io.gpucloud.worker.nvidiasmi.ModuleIdReader;
import io.gpucloud.worker.nvidiasmi.ModuleIdSpelling;
import io.gpucloud.worker.nvidiasmi.NvidiaSmi;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.sim.SimulatedHostSpec;
import io.gpucloud.worker.sim.SimulatedHosts;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Discovery on what real machines showed: an H200 and an H100, each in a Firecracker microVM, captured with
 * {@code host-worker/tools/capture-host.sh} (see the fixture's README). The simulators are held to
 * the same machine, and the capture tool to the simulated boards.
 */
class RealHostSnapshotTest {

    private static final Path H200 = Path.of("src/test/hosts/h200-firecracker");
    private static final Path CAPTURE_TOOL = Path.of("tools/capture-host.sh");
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final long MiB = 1L << 20;
    private static final long GiB = 1L << 30;

    @RegisterExtension
    final SimulatedHosts hosts = new SimulatedHosts();

    /** The captured machines: where each capture lies and the simulated board that stands for its GPU. */
    enum Machine {
        H200("h200-firecracker", SimulatedHostSpec.hgxH200("sim-h200")),
        H100("h100-firecracker", SimulatedHostSpec.hgxH100("sim-h100"));

        final Path capture;
        final SimulatedHostSpec board;

        Machine(String folder, SimulatedHostSpec board) {
            this.capture = Path.of("src/test/hosts", folder);
            this.board = board;
        }
    }

    @ParameterizedTest
    @EnumSource(Machine.class)
    void theCaptureReadsAsTheLiveMachineRead(Machine machine) throws IOException {
        JsonNode live = JSON.readTree(machine.capture.resolve("discover.json").toFile());
        // through text, as the worker prints it, so numbers compare by value and not by Java type
        JsonNode replayed = JSON.readTree(JSON.writeValueAsString(replay(machine.capture).discover()));

        assertThat(without(replayed, "problems")).isEqualTo(without(live, "problems"));
        // Messages may be reworded; code, severity and subject are what the control plane acts on.
        // Both were captured before discovery said that such a machine is itself a VM; the H200 also
        // before it checked that the nodes hold the machine's memory.
        List<String> expected = new ArrayList<>(identities(live));
        if (!expected.contains(MEMORY_OUTSIDE_NODES)) {
            expected.add(0, MEMORY_OUTSIDE_NODES);
        }
        expected.add(HOST_IS_A_VM);
        assertThat(identities(replayed)).containsExactlyElementsOf(expected);
    }

    private static final String MEMORY_OUTSIDE_NODES = "warning memory-outside-nodes /proc/meminfo";
    private static final String HOST_IS_A_VM = "warning host-is-a-vm 0000:00:06.0";

    @Test
    void theWorkersDiscoverOnlyCommandReplaysACapture() throws Exception {
        PrintStream stdout = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        try {
            HostWorkerMain.main(new String[] {"--discover-only", "--root", H200.toString()});
        } finally {
            System.setOut(stdout);
        }
        JsonNode live = JSON.readTree(H200.resolve("discover.json").toFile());
        JsonNode replayed = JSON.readTree(printed.toString(StandardCharsets.UTF_8));
        assertThat(without(replayed, "problems")).isEqualTo(without(live, "problems"));
        assertThat(replayed.get("pciDevices").get(0).get("moduleId").asInt()).as("from the recorded nvidia-smi -q")
                .isEqualTo(1);
    }

    @Test
    void aCallTheCaptureDidNotRecordAnswersAsAToolThatIsNotInstalled() {
        RecordedCommands commands = RecordedCommands.of(H200).orElseThrow();
        CommandResult unrecorded = commands.run("nvidia-smi", "-q", "-x");
        assertThat(unrecorded.exitCode()).isEqualTo(CommandResult.NOT_FOUND);
        assertThat(unrecorded.stderr()).contains("not recorded in the capture");
        assertThat(commands.run("fmpm", "-l").exitCode()).as("recorded: fmpm was not installed there").isEqualTo(127);
        assertThat(commands.run("nvidia-smi", "-q").stdout()).contains("Module Id");
        assertThat(RecordedCommands.of(Path.of("src/test/java"))).isEmpty();
    }

    @Test
    void aGuestWithOneH200AndNoIommuIsAPcieGpuHostThatCannotPassThrough() {
        HostTopology t = replay(H200).discover();

        assertThat(t.hostName()).isEqualTo("vm");
        assertThat(t.platform()).isEqualTo(Platform.PCIE_GPU);
        assertThat(t.gpuModel()).isEqualTo("H200-SXM-141GB");
        assertThat(t.fabricMode()).isEqualTo(FabricMode.NONE);
        assertThat(t.passthroughCapable()).isFalse();
        assertThat(t.partitions()).isEmpty();

        // The microVM's five virtio functions and its host bridge are nothing the control plane places.
        PciDevice gpu = assertThat(t.pciDevices()).singleElement().actual();
        assertThat(gpu.bdf()).isEqualTo("0000:00:06.0");
        assertThat(gpu.kind()).isEqualTo(DeviceKind.GPU);
        assertThat(gpu.deviceId()).isEqualTo("2335");
        assertThat(gpu.driver()).isEqualTo("nvidia");
        assertThat(gpu.moduleId()).isEqualTo(1);
        assertThat(gpu.numaNode()).isNull();
        assertThat(gpu.iommuGroup()).isNull();
        assertThat(gpu.barSizes()).containsExactly(16 * MiB, 256 * GiB, 32 * MiB);

        assertThat(t.numaNodes()).singleElement().satisfies(n -> {
            assertThat(n.cpus()).hasSize(16);
            assertThat(n.memoryMiB()).isEqualTo(4443);
            assertThat(n.hugepages1gTotal()).isZero();
        });
        assertThat(t.cpus()).hasSize(16).allSatisfy(c -> assertThat(c.siblings()).containsExactly(c.id()));

        assertThat(problem(t, "iommu-off").severity()).isEqualTo("error");
        assertThat(problem(t, "numa-node-unknown").severity()).isEqualTo("info");
        assertThat(problem(t, "platform-unrecognized").message()).isEqualTo("1 H200-SXM-141GB GPU and no NVSwitch "
                + "match no HGX board; treated as a PCIe GPU host without fabric");
        assertThat(problem(t, "memory-outside-nodes").message()).isEqualTo("NUMA nodes count 4,443 MiB of the "
                + "128,887 MiB the kernel counts; only the nodes' memory is offered to VMs");
        assertThat(problem(t, "host-is-a-vm").message()).isEqualTo("nvidia-smi reports 1 GPU (0000:00:06.0) passed "
                + "through to this machine: it is itself a virtual machine, and can give its GPUs to VMs only with a "
                + "virtual IOMMU and nested virtualization");
    }

    @Test
    void driver580sModuleIdIsRead() throws IOException {
        assertThat(ModuleIdReader.parse(Files.readString(H200.resolve("commands/nvidia-smi-q.out"))))
                .isEqualTo(Map.of("0000:00:06.0", 1));
        assertThat(ModuleIdReader.parse(Files.readString(Machine.H100.capture.resolve("commands/nvidia-smi-q.out"))))
                .isEqualTo(Map.of("0000:00:06.0", 5));
    }

    @ParameterizedTest
    @EnumSource(Machine.class)
    void theSimulatedDriver580PrintsWhatTheRealOnePrinted(Machine machine) throws IOException {
        String real = Files.readString(machine.capture.resolve("commands/nvidia-smi-q.out"));
        SimulatedHost sim = hosts.create(machine.board.withModuleIdSpelling(ModuleIdSpelling.R580));
        String simulated = sim.nvidiaSmi().run("-q").stdout();

        for (String key : List.of("Driver Version", "CUDA Version")) {
            assertThat(header(simulated, key)).as(key).isEqualTo(header(real, key));
        }
        String realGpu = firstGpu(real);
        String simGpu = firstGpu(simulated);
        // Every line the simulator prints, the driver prints too: same key, same depth, same order.
        assertThat(keys(realGpu)).containsSubsequence(keys(simGpu));
        assertThat(colonColumns(simGpu)).containsOnly(colonColumns(realGpu).get(0));
        assertThat(colonColumns(realGpu)).containsOnly(colonColumns(realGpu).get(0));
        for (String key : List.of("Product Name", "Product Architecture", "FB Memory Usage/Total",
                "BAR1 Memory Usage/Total", "PCI/Device Id")) {
            assertThat(value(simGpu, key)).as(key).isEqualTo(value(realGpu, key));
        }

        // The simulated board's sysfs BARs are the real GPU's.
        PciDevice realGpuDevice = replay(machine.capture).discover().pciDevices().get(0);
        assertThat(sim.discover().pciDevices()).filteredOn(d -> d.kind() == DeviceKind.GPU)
                .allSatisfy(d -> assertThat(d.barSizes()).isEqualTo(realGpuDevice.barSizes()))
                .allSatisfy(d -> assertThat(d.deviceId()).isEqualTo(realGpuDevice.deviceId()));
    }

    @Test
    void theCaptureToolCopiesAnHgxBoardSoThatDiscoveryReadsItTheSame(@TempDir Path out) throws Exception {
        SimulatedHost board = hosts.create(SimulatedHostSpec.hgxH100("capture-me"));
        HostTopology original = board.discover();
        List<String> before = listing(board.root());

        Path stubs = Files.createDirectories(out.resolve("bin"));
        stub(stubs.resolve("nvidia-smi"), "No devices were found", 6);
        stub(stubs.resolve("fmpm"), "{\"partitionInfo\": []}", 0);
        Path copy = out.resolve("snapshot");
        ProcessBuilder pb = new ProcessBuilder("bash", CAPTURE_TOOL.toString(), copy.toString()).redirectErrorStream(true);
        pb.environment().put("CAPTURE_ROOT", board.root().toString());
        pb.environment().put("PATH", stubs + ":/usr/bin:/bin");
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(output).isZero();
        assertThat(output).as("what it copied, in one line").contains("capture-host: 56 PCI functions, 224 CPUs, 2 NUMA nodes, 56 IOMMU groups;")
                .contains("nvidia-smi -q exit 6, fmpm -l exit 0; in " + copy);

        HostTopology captured = new HostDiscovery(copy, board.nvidiaSmi(), board.fmpm()).discover();
        assertThat(captured).isEqualTo(original);
        assertThat(captured.problems()).isEmpty();
        assertThat(captured.pciDevices()).filteredOn(d -> d.switchBdf() != null).isNotEmpty();
        assertThat(listing(board.root())).as("the tool writes nothing where it reads").isEqualTo(before);

        assertThat(Files.readString(copy.resolve("commands/nvidia-smi-q.out"))).isEqualTo("No devices were found\n");
        assertThat(Files.readString(copy.resolve("commands/nvidia-smi-q.rc")).strip()).isEqualTo("6");
        assertThat(Files.readString(copy.resolve("commands/fmpm-l.rc")).strip()).isEqualTo("0");
    }

    /** Discovery over a captured tree, answering nvidia-smi and fmpm with what the machine answered. */
    static HostDiscovery replay(Path capture) {
        RecordedCommands commands = RecordedCommands.of(capture).orElseThrow();
        NvidiaSmi smi = args -> commands.run("nvidia-smi", args);
        Fmpm fmpm = args -> commands.run("fmpm", args);
        return new HostDiscovery(capture, smi, fmpm);
    }

    private static DiscoveryProblem problem(HostTopology t, String code) {
        return assertThat(t.problems()).filteredOn(p -> p.code().equals(code)).singleElement().actual();
    }

    private static JsonNode without(JsonNode topology, String field) {
        ObjectNode copy = ((ObjectNode) topology).deepCopy();
        copy.remove(field);
        return copy;
    }

    private static List<String> identities(JsonNode topology) {
        List<String> ids = new ArrayList<>();
        ((ArrayNode) topology.get("problems")).forEach(p -> ids.add(p.get("severity").asString() + " "
                + p.get("code").asString() + " " + p.get("subject").asString()));
        return ids;
    }

    private static String header(String smiOutput, String key) {
        return smiOutput.lines().filter(l -> l.startsWith(key + " ")).map(l -> l.substring(l.indexOf(':') + 1).strip())
                .findFirst().orElseThrow();
    }

    private static String firstGpu(String smiOutput) {
        int start = smiOutput.indexOf("\nGPU ");
        int next = smiOutput.indexOf("\nGPU ", start + 1);
        return smiOutput.substring(start + 1, next < 0 ? smiOutput.length() : next);
    }

    private static final Pattern KEY_LINE = Pattern.compile("^( *)(\\S[^:]*?)\\s*(?::\\s*(.*))?$");

    /** "depth|key" for every line below the GPU header. */
    private static List<String> keys(String gpuBlock) {
        return gpuBlock.lines().skip(1).map(KEY_LINE::matcher).filter(Matcher::matches)
                .map(m -> m.group(1).length() / 4 + "|" + m.group(2)).toList();
    }

    private static List<Integer> colonColumns(String gpuBlock) {
        return gpuBlock.lines().skip(1).filter(l -> l.contains(" : ")).map(l -> l.indexOf(" : ") + 1).distinct().toList();
    }

    /** "Section/Key" or "Key" at the GPU's top level: the first match in the block. */
    private static String value(String gpuBlock, String path) {
        String[] parts = path.split("/");
        boolean inSection = parts.length == 1;
        for (String line : gpuBlock.lines().skip(1).toList()) {
            Matcher m = KEY_LINE.matcher(line);
            if (!m.matches()) {
                continue;
            }
            int depth = m.group(1).length() / 4;
            if (parts.length == 2 && depth == 1) {
                inSection = m.group(2).equals(parts[0]);
                continue;
            }
            if (inSection && m.group(2).equals(parts[parts.length - 1]) && depth == parts.length) {
                return m.group(3);
            }
        }
        throw new AssertionError(path + " not in nvidia-smi output");
    }

    private static void stub(Path program, String output, int exitCode) throws IOException {
        Files.writeString(program, "#!/bin/sh\necho '" + output + "'\nexit " + exitCode + "\n");
        program.toFile().setExecutable(true);
    }

    private static List<String> listing(Path root) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            return files.map(f -> root.relativize(f) + (Files.isRegularFile(f) ? " " + size(f) : "")).sorted().toList();
        }
    }

    private static long size(Path f) {
        try {
            return Files.size(f);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
