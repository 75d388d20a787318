package io.gpucloud.worker.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.protocol.job.Job;
import io.gpucloud.protocol.job.JobKind;
import io.gpucloud.protocol.job.JobResult;
import io.gpucloud.worker.action.ErrorCodes;
import io.gpucloud.worker.action.StepLog;
import io.gpucloud.worker.catalog.VirtualizationCatalog.MigPlacement;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.sim.SimulatedHostSpec;
import io.gpucloud.worker.sim.SimulatedHosts;
import io.gpucloud.worker.vfio.PciDriverBinder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** SET_VIRTUALIZATION_MODE through the real executor against the nvidia-smi simulator. */
class VirtualizationJobTest {

    @RegisterExtension
    final SimulatedHosts hosts = new SimulatedHosts();

    @TempDir
    Path stateDir;

    private static Job job(List<String> bdfs, String mode, Map<String, Object> params) {
        return new Job(UUID.randomUUID(), JobKind.SET_VIRTUALIZATION_MODE, null, 1, bdfs, null, null, null, null,
                new Job.Virtualization(mode, params));
    }

    private static List<String> commands(JobResult r) {
        return r.steps().stream().map(JobResult.Step::command).toList();
    }

    @Test
    void migIsEnabledWithTheProfilesAndARepeatChangesNothing() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("vj-mig"));
        List<String> gpus = host.gpuBdfs();
        try (JobExecutor worker = JobExecutor.forSimulatedHost(host, stateDir)) {
            JobResult r = worker.execute(job(gpus, "mig", Map.of("profiles", List.of(19, 19, 9))));
            assertThat(r.success()).as(String.valueOf(r.error())).isTrue();
            assertThat(commands(r)).contains("nvidia-smi -i 00000000:18:00.0 -mig 1",
                    "nvidia-smi mig -i 00000000:18:00.0 -cgi 19,19,9 -C");
            assertThat(r.facts()).containsEntry("mig.0000:18:00.0", "19,19,9").containsEntry("mode", "mig");
            gpus.forEach(g -> assertThat(host.nvidiaSmi().migStatus(g).instances()).containsExactly(
                    new MigPlacement(19, 0), new MigPlacement(19, 1), new MigPlacement(9, 4)));

            JobResult again = worker.execute(job(gpus, "mig", Map.of("profiles", List.of(19, 19, 9))));
            assertThat(again.success()).isTrue();
            assertThat(commands(again)).noneMatch(c -> c.contains("-cgi") || c.contains("-mig 1") || c.contains("-dgi"));

            JobResult other = worker.execute(job(gpus, "mig", Map.of("profiles", List.of(0))));
            assertThat(other.success()).isTrue();
            assertThat(commands(other)).contains("nvidia-smi mig -i 00000000:18:00.0 -dci",
                    "nvidia-smi mig -i 00000000:18:00.0 -dgi", "nvidia-smi mig -i 00000000:18:00.0 -cgi 0 -C");
            assertThat(host.nvidiaSmi().migStatus(gpus.get(0)).instances()).containsExactly(new MigPlacement(0, 0));

            JobResult off = worker.execute(job(gpus, "passthrough", Map.of()));
            assertThat(off.success()).isTrue();
            gpus.forEach(g -> assertThat(host.nvidiaSmi().migStatus(g).current()).isFalse());
            assertThat(worker.execute(job(gpus, "passthrough", Map.of())).steps())
                    .allMatch(s -> s.name().startsWith("MIG already disabled"));
        }
    }

    @Test
    void hamiWritesItsConfigAndPassthroughRemovesIt() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("vj-hami"));
        try (JobExecutor worker = JobExecutor.forSimulatedHost(host, stateDir)) {
            JobResult r = worker.execute(job(host.gpuBdfs(), "hami", Map.of("deviceSplitCount", 4,
                    "deviceMemoryScaling", 1.5, "deviceCoreScaling", 1.0)));
            assertThat(r.success()).isTrue();
            assertThat(Files.readString(worker.hamiConfigFile())).contains("\"deviceSplitCount\" : 4")
                    .contains("\"deviceMemoryScaling\" : 1.5").contains("0000:18:00.0");
            assertThat(worker.execute(job(host.gpuBdfs(), "passthrough", Map.of())).success()).isTrue();
            assertThat(worker.hamiConfigFile()).doesNotExist();
        }
    }

    @Test
    void failuresCarryTheToolsWords() throws Exception {
        SimulatedHost host = hosts.create(SimulatedHostSpec.hgxH100("vj-fail"));
        List<String> gpus = host.gpuBdfs();
        try (JobExecutor worker = JobExecutor.forSimulatedHost(host, stateDir)) {
            host.nvidiaSmi().hold(gpus.get(1), "python train.py");
            JobResult busy = worker.execute(job(gpus, "mig", Map.of("profiles", List.of(0))));
            assertThat(busy.success()).isFalse();
            assertThat(busy.errorCode()).isEqualTo(ErrorCodes.DEVICE_BUSY);
            assertThat(busy.error()).contains("pending enable state").contains("In use by another client")
                    .contains("-r");
            host.nvidiaSmi().release(gpus.get(1));

            new PciDriverBinder(host.kernel(), PciDriverBinder.Timing.immediate()).bindVfio(gpus.get(3), new StepLog());
            JobResult gone = worker.execute(job(gpus, "passthrough", Map.of()));
            assertThat(gone.success()).isFalse();
            assertThat(gone.errorCode()).isEqualTo(ErrorCodes.GPU_NOT_VISIBLE);
            assertThat(gone.error()).contains("No devices were found").contains("vfio-pci");

            JobResult cambricon = worker.execute(job(gpus, "cambricon_env_share", Map.of("virtualizationNum", 4)));
            assertThat(cambricon.errorCode()).isEqualTo(ErrorCodes.UNSUPPORTED_MODE);
        }
        SimulatedHost pcie = hosts.create(SimulatedHostSpec.pcieGpuHost("vj-l40s"));
        try (JobExecutor worker = JobExecutor.forSimulatedHost(pcie, stateDir.resolve("pcie"))) {
            JobResult r = worker.execute(job(pcie.gpuBdfs(), "mig", Map.of("profiles", List.of(0))));
            assertThat(r.success()).isFalse();
            assertThat(r.errorCode()).isEqualTo(ErrorCodes.MIG_NOT_SUPPORTED);
            assertThat(r.error()).contains("Not Supported");
            assertThat(worker.execute(job(pcie.gpuBdfs(), "passthrough", Map.of())).success()).isTrue();
        }
    }
}
