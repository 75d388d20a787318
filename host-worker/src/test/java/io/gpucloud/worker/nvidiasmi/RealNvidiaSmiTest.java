package io.gpucloud.worker.nvidiasmi;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.worker.catalog.VirtualizationCatalog;
import io.gpucloud.worker.catalog.VirtualizationCatalog.MigGpu;
import io.gpucloud.worker.catalog.VirtualizationCatalog.MigProfile;
import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.pci.Bdf;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.sim.SimulatedHostSpec;
import io.gpucloud.worker.sim.SimulatedHosts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The nvidia-smi calls the worker makes, as a real H200 and a real H100 with MIG off answered them
 * (read-only probes, {@code src/test/hosts/*-firecracker/commands/nvidia-smi-probes.txt}), against the
 * simulator and the MIG catalog.
 */
class RealNvidiaSmiTest {

    /** The captured machines' probes, the simulated board of the same GPU, and its PCI id. */
    enum Machine {
        H200("h200-firecracker", SimulatedHostSpec.hgxH200("probe-h200"), "10de:2335"),
        H100("h100-firecracker", SimulatedHostSpec.hgxH100("probe-h100"), "10de:2330");

        final Path probes;
        final SimulatedHostSpec board;
        final String pciId;

        Machine(String folder, SimulatedHostSpec board, String pciId) {
            this.probes = Path.of("src/test/hosts", folder, "commands/nvidia-smi-probes.txt");
            this.board = board;
            this.pciId = pciId;
        }
    }
    private static final String REAL_BUS = "00000000:00:06.0";
    private static final String ABSENT_BUS = "00000000:99:00.0";

    @RegisterExtension
    final SimulatedHosts hosts = new SimulatedHosts();

    record Probe(List<String> args, int exitCode, String stdout, String stderr) {
    }

    @ParameterizedTest
    @EnumSource(Machine.class)
    void theSimulatorAnswersTheWorkersCallsAsTheRealDriverDid(Machine machine) throws IOException {
        SimulatedHost host = hosts.create(machine.board.withModuleIdSpelling(ModuleIdSpelling.R580));
        String simBus = Bdf.toNvidiaFormat(host.gpuBdfs().get(0));
        List<Probe> compared = new ArrayList<>();
        for (Probe real : probes(machine)) {
            boolean workerCall = real.args().contains("--query-gpu=pci.bus_id,mig.mode.current,mig.mode.pending")
                    || real.args().contains("-lgi");
            if (!workerCall) {
                continue;
            }
            String[] args = real.args().stream().skip(1).map(a -> a.equals(REAL_BUS) ? simBus : a).toArray(String[]::new);
            CommandResult sim = host.nvidiaSmi().run(args);
            assertThat(sim.exitCode()).as(String.join(" ", real.args())).isEqualTo(real.exitCode());
            assertThat(sim.stdout()).as(String.join(" ", real.args())).isEqualTo(real.stdout().replace(REAL_BUS, simBus));
            assertThat(sim.stderr()).isEqualTo(real.stderr());
            compared.add(real);
        }
        // the MIG-mode query by bus and by index, a GPU that is not there, and the instance listing with MIG off
        assertThat(compared).extracting(p -> p.args().get(p.args().size() - 1)).contains(REAL_BUS, "0", ABSENT_BUS, "-lgi");
        assertThat(compared).hasSize(5);
    }

    @ParameterizedTest
    @EnumSource(Machine.class)
    void theMigCatalogHasTheRealGpusProfiles(Machine machine) throws IOException {
        Probe lgip = probes(machine).stream().filter(p -> p.args().equals(List.of("nvidia-smi", "mig", "-lgip")))
                .findFirst().orElseThrow();
        // "|   0  MIG 3g.71gb          9     2/2        69.75      No     60     3     0   |"
        Pattern row = Pattern.compile("^\\|\\s+\\d+\\s+MIG (\\S+)\\s+(\\d+)\\s+\\d+/(\\d+)\\s");
        Map<Integer, String> realNames = new TreeMap<>();
        Map<Integer, Integer> realMax = new TreeMap<>();
        for (String line : lgip.stdout().split("\n")) {
            Matcher m = row.matcher(line);
            if (m.find() && !m.group(1).contains("+")) { // "+me": the media-engine variant, not offered
                realNames.put(Integer.parseInt(m.group(2)), m.group(1));
                realMax.put(Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)));
            }
        }
        assertThat(realNames).hasSize(6);

        VirtualizationCatalog catalog = VirtualizationCatalog.builtin();
        MigGpu gpu = catalog.migGpuByPciId(machine.pciId).orElseThrow();
        Map<Integer, String> catalogNames = new TreeMap<>();
        Map<Integer, Integer> catalogMax = new TreeMap<>();
        for (MigProfile p : catalog.migTable().profiles()) {
            catalogNames.put(p.id(), gpu.profileName(p.id()));
            catalogMax.put(p.id(), p.max());
        }
        assertThat(catalogNames).isEqualTo(realNames);
        assertThat(catalogMax).isEqualTo(realMax);
    }

    /** "=== ARGS", "--- rc N", "--- stdout", lines, "--- stderr", lines; as the probe script wrote them. */
    private static List<Probe> probes(Machine machine) throws IOException {
        List<Probe> probes = new ArrayList<>();
        String[] blocks = Files.readString(machine.probes).split("(?m)^=== ");
        for (String block : blocks) {
            if (block.isEmpty()) {
                continue;
            }
            int rcAt = block.indexOf("\n--- rc ");
            int outAt = block.indexOf("\n--- stdout\n");
            int errAt = block.indexOf("--- stderr\n", outAt);
            List<String> args = List.of(block.substring(0, rcAt).split(" "));
            int rc = Integer.parseInt(block.substring(rcAt + 8, outAt).strip());
            String stdout = block.substring(outAt + 12, errAt);
            String stderr = block.substring(errAt + 11);
            probes.add(new Probe(args, rc, stdout, stderr));
        }
        return probes;
    }
}
