package io.gpucloud.worker.nvidiasmi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.sim.SimulatedHostSpec;
import io.gpucloud.worker.sim.SimulatedHosts;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ModuleIdReaderTest {

    @RegisterExtension
    final SimulatedHosts hosts = new SimulatedHosts();

    /** Older drivers: "Module ID" among the identity lines, 42-column layout. */
    private static final String LEGACY = """

            ==============NVSMI LOG==============

            Timestamp                                 : Mon Jun  3 10:12:44 2024
            Driver Version                            : 535.161.08
            CUDA Version                              : 12.2

            Attached GPUs                             : 2
            GPU 00000000:18:00.0
                Product Name                          : NVIDIA H100 80GB HBM3
                Serial Number                         : 1652823012345
                GPU UUID                              : GPU-2b9a7c11-0c6f-4d5e-9a3d-1f0e6b7c8d9e
                Board Part Number                     : 692-2G520-0200-000
                GPU Part Number                       : 2330-885-A1
                FRU Part Number                       : N/A
                Module ID                             : 2
                Inforom Version
                    Image Version                     : G520.0200.00.05
                PCI
                    Bus                               : 0x18
                    Bus Id                            : 00000000:18:00.0

            GPU 00000000:2A:00.0
                Product Name                          : NVIDIA H100 80GB HBM3
                Module ID                             : 4
                PCI
                    Bus Id                            : 00000000:2A:00.0

            """;

    /** Later R5xx drivers: "Module Id". */
    private static final String MIXED_CASE = LEGACY.replace("Module ID  ", "Module Id  ");

    /** Drivers 565 and later: inside "Platform Info", 59-column layout. */
    private static final String PLATFORM_INFO = """

            ==============NVSMI LOG==============

            Timestamp                                              : Tue Jul 15 09:30:02 2025
            Driver Version                                         : 570.172.08
            CUDA Version                                           : 12.8

            Attached GPUs                                          : 2
            GPU 00000001:18:00.0
                Product Name                                       : NVIDIA H100 80GB HBM3
                FRU Part Number                                    : N/A
                Platform Info
                    Chassis Serial Number                          : N/A
                    Slot Number                                    : N/A
                    Tray Index                                     : N/A
                    Host ID                                        : N/A
                    Peer Type                                      : N/A
                    Module Id                                      : 2
                    GPU Fabric GUID                                : N/A
                Inforom Version
                    Image Version                                  : G520.0200.00.05

            GPU 00000001:2A:00.0
                Product Name                                       : NVIDIA H100 80GB HBM3
                Platform Info
                    Chassis Serial Number                          : N/A
                    Module Id                                      : 4

            """;

    @Test
    void legacyModuleIdSpelling() {
        assertThat(ModuleIdReader.parse(LEGACY)).containsExactly(Map.entry("0000:18:00.0", 2), Map.entry("0000:2a:00.0", 4));
    }

    @Test
    void mixedCaseModuleIdSpelling() {
        assertThat(MIXED_CASE).contains("Module Id ");
        assertThat(ModuleIdReader.parse(MIXED_CASE)).containsExactly(Map.entry("0000:18:00.0", 2), Map.entry("0000:2a:00.0", 4));
    }

    @Test
    void platformInfoBlockAndNonZeroDomain() {
        assertThat(ModuleIdReader.parse(PLATFORM_INFO))
                .containsExactly(Map.entry("0001:18:00.0", 2), Map.entry("0001:2a:00.0", 4));
    }

    @Test
    void pcieCardsPrintNotApplicableAndStayUnknown() {
        String pcie = LEGACY.replace("Module ID                             : 4", "Module ID                             : N/A");
        assertThat(ModuleIdReader.parse(pcie)).containsOnlyKeys("0000:18:00.0");
    }

    @ParameterizedTest
    @EnumSource(ModuleIdSpelling.class)
    void simulatorOutputParsesToTheBoardsTruthForEverySpelling(ModuleIdSpelling spelling) throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("smi").withModuleIdSpelling(spelling));
        Map<String, Integer> ids = new ModuleIdReader(host.nvidiaSmi()).read();
        assertThat(ids).isEqualTo(host.moduleIds()).hasSize(8);
        assertThat(ids.get("0000:18:00.0")).isEqualTo(2);
    }

    @Test
    void simulatorPrintsEachSpellingFaithfully() {
        String legacy = output(ModuleIdSpelling.MODULE_ID_UPPER_CASE, "legacy");
        String mixed = output(ModuleIdSpelling.MODULE_ID, "mixed");
        String platform = output(ModuleIdSpelling.PLATFORM_INFO, "platform");
        assertThat(legacy).contains("\n    Module ID                             : 2\n").doesNotContain("Module Id");
        assertThat(mixed).contains("\n    Module Id                             : 2\n").doesNotContain("Module ID");
        assertThat(platform).contains("\n    Platform Info\n")
                .containsPattern("\n        Module Id +: 2\n")
                .doesNotContain("\n    Module I");
        assertThat(legacy).startsWith("\n==============NVSMI LOG==============\n\nTimestamp ")
                .contains("\nAttached GPUs                             : 8\nGPU 00000000:18:00.0\n");
    }

    @Test
    void noDriverIsExitNineWithNvidiasMessage() {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("nodrv").withNvidiaDriverLoaded(false));
        CommandResult r = host.nvidiaSmi().run("-q");
        assertThat(r.exitCode()).isEqualTo(9);
        assertThat(r.stdout()).isEqualTo("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
                + "Make sure that the latest NVIDIA driver is installed and running.\n\n");

        assertThatThrownBy(() -> new ModuleIdReader(host.nvidiaSmi()).read())
                .isInstanceOfSatisfying(NvidiaSmiException.class, e -> {
                    assertThat(e.driverNotLoaded()).isTrue();
                    assertThat(e.getMessage()).startsWith("NVIDIA-SMI has failed because it couldn't communicate");
                });
    }

    @Test
    void noGpuOnTheNvidiaDriverIsAnEmptyAnswerNotAFailure() throws Exception {
        NvidiaSmi none = args -> new CommandResult(6, "No devices were found\n", "");
        assertThat(new ModuleIdReader(none).read()).isEmpty();
    }

    @Test
    void missingBinaryIsAFailure() {
        NvidiaSmi missing = NvidiaSmi.system("/nonexistent/nvidia-smi", java.time.Duration.ofSeconds(5));
        assertThatThrownBy(() -> new ModuleIdReader(missing).read())
                .isInstanceOfSatisfying(NvidiaSmiException.class, e -> assertThat(e.exitCode()).isEqualTo(127));
    }

    private String output(ModuleIdSpelling spelling, String name) {
        SimulatedHost host = hosts.create(
                SimulatedHostSpec.hgxH100(name).withModuleIdSpelling(spelling));
        return host.nvidiaSmi().run("-q").stdout();
    }
}
