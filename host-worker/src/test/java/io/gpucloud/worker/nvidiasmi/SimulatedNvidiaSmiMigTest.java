package io.gpucloud.worker.nvidiasmi;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.worker.action.StepLog;
import io.gpucloud.worker.catalog.VirtualizationCatalog.MigPlacement;
import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.sim.SimulatedHostSpec;
import io.gpucloud.worker.sim.SimulatedHosts;
import io.gpucloud.worker.vfio.PciDriverBinder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The nvidia-smi simulator's MIG commands: the tool's messages and exit codes, and its state machine. */
class SimulatedNvidiaSmiMigTest {

    private static final String GPU = "0000:18:00.0";
    private static final String BUS = "00000000:18:00.0";

    @RegisterExtension
    final SimulatedHosts hosts = new SimulatedHosts();

    private SimulatedNvidiaSmi smi(SimulatedHostSpec spec) {
        return hosts.create(spec).nvidiaSmi();
    }

    @Test
    void enablingMigOnAnIdleGpuTakesEffectAtOnce() {
        SimulatedNvidiaSmi smi = smi(SimulatedHostSpec.hgxH100("mig-idle"));
        assertThat(smi.run("--query-gpu=pci.bus_id,mig.mode.current,mig.mode.pending", "--format=csv,noheader", "-i", BUS)
                .stdout()).isEqualTo(BUS + ", Disabled, Disabled\n");
        CommandResult r = smi.run("-i", BUS, "-mig", "1");
        assertThat(r.exitCode()).isZero();
        assertThat(r.stdout()).isEqualTo("Enabled MIG Mode for GPU " + BUS + "\nAll done.\n");
        assertThat(smi.migStatus(GPU).current()).isTrue();
        assertThat(smi.run("-i", "0", "--query-gpu=pci.bus_id,mig.mode.current,mig.mode.pending", "--format=csv,noheader")
                .stdout()).as("-i takes an index too").isEqualTo(BUS + ", Enabled, Enabled\n");
        assertThat(smi.run("-q").stdout()).containsPattern("MIG Mode\n\\s+Current\\s+: Enabled\n\\s+Pending\\s+: Enabled");
    }

    @Test
    void aGpuInUseStaysPendingUntilAResetWithNobodyOnIt() {
        SimulatedNvidiaSmi smi = smi(SimulatedHostSpec.hgxH100("mig-busy"));
        smi.hold(GPU, "dcgm");
        CommandResult r = smi.run("-i", BUS, "-mig", "1");
        assertThat(r.exitCode()).isZero();
        assertThat(r.stdout()).startsWith("Warning: MIG mode is in pending enable state for GPU " + BUS
                + ":In use by another client\n").endsWith("All done.\n");
        assertThat(smi.migStatus(GPU).current()).isFalse();
        assertThat(smi.migStatus(GPU).pending()).isTrue();
        assertThat(smi.run("mig", "-i", BUS, "-lgi").stdout()).isEqualTo("No MIG-enabled devices found.\n");

        CommandResult reset = smi.run("-i", BUS, "-r");
        assertThat(reset.exitCode()).isEqualTo(SimulatedNvidiaSmi.EXIT_IN_USE);
        assertThat(reset.stdout()).contains("GPU " + BUS + ": In use by another client");
        smi.release(GPU);
        assertThat(smi.run("-i", BUS, "-r").stdout()).isEqualTo("GPU " + BUS + " was successfully reset.\nAll done.\n");
        assertThat(smi.migStatus(GPU).current()).isTrue();
    }

    @Test
    void gpuInstancesArePlacedByTheProfileTableAndRefusedWhenTheyDoNotFit() {
        SimulatedNvidiaSmi smi = smi(SimulatedHostSpec.hgxH100("mig-cgi"));
        smi.run("-i", BUS, "-mig", "1");
        CommandResult created = smi.run("mig", "-i", BUS, "-cgi", "19,19,9", "-C");
        assertThat(created.exitCode()).isZero();
        assertThat(created.stdout()).startsWith(
                "Successfully created GPU instance ID  1 on GPU  0 using profile MIG 1g.10gb (ID 19)\n"
                + "Successfully created compute instance ID  0 on GPU  0 GPU instance ID  1 using profile MIG 1g.10gb (ID  0)\n");
        assertThat(smi.migStatus(GPU).instances()).containsExactly(new MigPlacement(19, 0), new MigPlacement(19, 1),
                new MigPlacement(9, 4));
        assertThat(smi.run("mig", "-i", BUS, "-lgi").stdout()).contains("MIG 3g.40gb").contains("4:4");

        CommandResult full = smi.run("mig", "-i", BUS, "-cgi", "9");
        assertThat(full.exitCode()).isEqualTo(SimulatedNvidiaSmi.EXIT_INSUFFICIENT_RESOURCES);
        assertThat(full.stdout()).isEqualTo("Unable to create a GPU instance on GPU  0 using profile 9: Insufficient "
                + "Resources\nFailed to create GPU instances: Insufficient Resources\n");
        assertThat(smi.run("mig", "-i", BUS, "-cgi", "42").exitCode()).isEqualTo(SimulatedNvidiaSmi.EXIT_INVALID_ARGUMENT);

        CommandResult disable = smi.run("-i", BUS, "-mig", "0");
        assertThat(disable.exitCode()).as("instances hold MIG mode").isEqualTo(SimulatedNvidiaSmi.EXIT_IN_USE);
        assertThat(disable.stdout()).startsWith("Unable to disable MIG Mode for GPU " + BUS + ": In use by another client");
        assertThat(smi.run("mig", "-i", BUS, "-dgi").exitCode()).as("compute instances first")
                .isEqualTo(SimulatedNvidiaSmi.EXIT_IN_USE);
        assertThat(smi.run("mig", "-i", BUS, "-dci").stdout()).contains("Successfully destroyed compute instance ID  0");
        assertThat(smi.run("mig", "-i", BUS, "-dgi").stdout()).contains("Successfully destroyed GPU instance ID  1 from GPU  0");
        assertThat(smi.run("mig", "-i", BUS, "-lgi").stdout()).isEqualTo("No GPU instances found: Not Found\n");
        assertThat(smi.run("-i", BUS, "-mig", "0").stdout()).isEqualTo("Disabled MIG Mode for GPU " + BUS + "\nAll done.\n");
    }

    @Test
    void orderMattersASmallSliceFirstCanBlockALargeOne() {
        SimulatedNvidiaSmi smi = smi(SimulatedHostSpec.hgxH100("mig-order"));
        smi.run("-i", BUS, "-mig", "1");
        CommandResult r = smi.run("mig", "-i", BUS, "-cgi", "14,5", "-C");
        assertThat(r.exitCode()).isEqualTo(SimulatedNvidiaSmi.EXIT_INSUFFICIENT_RESOURCES);
        assertThat(r.stdout()).contains("using profile MIG 2g.20gb (ID 14)")
                .contains("Unable to create a GPU instance on GPU  0 using profile 5: Insufficient Resources");
        assertThat(smi.migStatus(GPU).instances()).as("what was created before stays").containsExactly(
                new MigPlacement(14, 0));
    }

    @Test
    void aGpuWithoutMigAnswersNotSupported() {
        SimulatedHost host = hosts.create(SimulatedHostSpec.pcieGpuHost("mig-l40s"));
        String bus = host.nvidiaSmi().run("-q").stdout().lines().filter(l -> l.startsWith("GPU ")).findFirst()
                .orElseThrow().substring(4);
        CommandResult r = host.nvidiaSmi().run("-i", bus, "-mig", "1");
        assertThat(r.exitCode()).isEqualTo(SimulatedNvidiaSmi.EXIT_NOT_SUPPORTED);
        assertThat(r.stdout()).isEqualTo("Unable to enable MIG Mode for GPU " + bus + ": Not Supported\n"
                + "Treating as warning and moving on.\nAll done.\n");
        assertThat(host.nvidiaSmi().run("--query-gpu=pci.bus_id,mig.mode.current,mig.mode.pending",
                "--format=csv,noheader", "-i", bus).stdout()).isEqualTo(bus + ", [N/A], [N/A]\n");
    }

    @Test
    void aGpuOnVfioPciIsNotThere() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("mig-vfio"));
        new PciDriverBinder(host.kernel(), PciDriverBinder.Timing.immediate()).bindVfio(GPU, new StepLog());
        CommandResult r = host.nvidiaSmi().run("-i", BUS, "-mig", "1");
        assertThat(r.exitCode()).isEqualTo(6);
        assertThat(r.stdout()).isEqualTo("No devices were found\n");
    }
}
