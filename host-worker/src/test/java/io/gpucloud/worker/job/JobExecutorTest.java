package io.gpucloud.worker.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.protocol.job.DomainSpec;
import io.gpucloud.protocol.job.Job;
import io.gpucloud.protocol.job.JobKind;
import io.gpucloud.protocol.job.JobResult;
import io.gpucloud.worker.action.ErrorCodes;
import io.gpucloud.worker.libvirt.CloudInitSeed;
import io.gpucloud.worker.libvirt.DomainSpecs;
import io.gpucloud.worker.libvirt.GuestImages;
import io.gpucloud.worker.libvirt.DomainState;
import io.gpucloud.worker.libvirt.DomainStatus;
import io.gpucloud.worker.libvirt.Hypervisor;
import io.gpucloud.worker.libvirt.HypervisorException;
import io.gpucloud.worker.libvirt.LibvirtHypervisor;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.sim.SimulatedHostSpec;
import io.gpucloud.worker.sim.SimulatedHosts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker's jobs end to end on a simulated HGX H100: the simulated kernel binds drivers, the simulated
 * Fabric Manager enforces partition rules, libvirt's test driver defines and runs the domains.
 */
class JobExecutorTest {

    /** Partition 3 of an HGX H100 is modules {1, 3}. */
    private static final int PAIR = 3;

    @RegisterExtension
    final SimulatedHosts hosts = new SimulatedHosts();

    @TempDir
    Path stateDir;

    private SimulatedHost host;
    private JobExecutor worker;
    private final UUID vm = UUID.randomUUID();
    private List<String> gpus;
    private List<String> devices;
    private DomainSpec spec;

    @BeforeEach
    void setUp() throws Exception {
        host = hosts.create(SimulatedHostSpec.hgxH100("worker"));
        worker = JobExecutor.forSimulatedHost(host, stateDir);
        gpus = bdfsOfModules(host, 1, 3);
        spec = DomainSpecs.forGpus(host.discover(), vm, "vm-" + vm.toString().substring(0, 8), gpus, 8, 65536, null,
                "default");
        devices = spec.devices().stream().map(DomainSpec.HostDevice::bdf).toList();
    }

    @AfterEach
    void tearDown() {
        worker.close();
    }

    @Test
    void createsInDesignOrderAndDeletesInReverse() throws Exception {
        assertThat(gpus).as("module ids are not bus order").containsExactly("0000:3a:00.0", "0000:5d:00.0");
        assertThat(devices).containsExactly("0000:3a:00.0", "0000:3b:00.0", "0000:5d:00.0");

        JobResult reset = ok(job(JobKind.RESET_GPUS, gpus, null, null));
        assertThat(reset.steps()).extracting(JobResult.Step::command).containsExactly(
                "echo 1 > /sys/bus/pci/devices/0000:3a:00.0/reset", "echo 1 > /sys/bus/pci/devices/0000:5d:00.0/reset");
        assertThat(gpus).allSatisfy(g -> assertThat(host.kernel().resetCount(g)).isEqualTo(1));
        assertThat(drivers()).containsExactly("nvidia", "mlx5_core", "nvidia");

        JobResult activate = ok(job(JobKind.ACTIVATE_PARTITION, List.of(), PAIR, null));
        assertThat(activate.steps()).singleElement().satisfies(s -> {
            assertThat(s.command()).isEqualTo("fmpm -a 3");
            assertThat(s.exitCode()).isZero();
        });
        assertThat(host.fmpm().activePartitions()).containsExactly(PAIR);
        assertThat(drivers()).as("GPUs stay on nvidia until bound").containsExactly("nvidia", "mlx5_core", "nvidia");

        JobResult bind = ok(job(JobKind.BIND_VFIO, devices, null, null));
        assertThat(bind.steps()).extracting(JobResult.Step::command).contains(
                "echo vfio-pci > /sys/bus/pci/devices/0000:3a:00.0/driver_override",
                "echo 0000:3a:00.0 > /sys/bus/pci/devices/0000:3a:00.0/driver/unbind",
                "echo 0000:3a:00.0 > /sys/bus/pci/drivers_probe");
        assertThat(drivers()).containsOnly("vfio-pci");
        assertThat(bind.facts()).containsEntry("driver.0000:3b:00.0", "vfio-pci");
        assertThat(host.nvidiaSmi().run("-q").stdout()).doesNotContain("00000000:3A:00.0", "00000000:5D:00.0")
                .contains("00000000:18:00.0");

        JobResult define = ok(defineJob(spec));
        assertThat(define.steps()).extracting(JobResult.Step::command)
                .contains(virsh("define " + worker.domainXmlFile(vm)));
        assertThat(worker.hypervisor().state(vm)).isEqualTo(DomainState.SHUT_OFF);
        assertThat(worker.domainXmlFile(vm)).exists();
        assertThat(worker.ncclTopologyFile(vm)).exists();
        assertThat(Files.readString(worker.ncclTopologyFile(vm))).contains("busid=\"0000:23:00.0\"")
                .contains("busid=\"0000:25:00.0\"").contains("target=\"fffffff:ffff:ff\"");
        assertThat(define.facts()).containsEntry("guestBdf.0000:3a:00.0", "0000:23:00.0")
                .containsEntry("ncclTopoFile", worker.ncclTopologyFile(vm).toString());

        JobResult start = ok(simple(JobKind.START_DOMAIN));
        assertThat(start.steps()).extracting(JobResult.Step::command)
                .containsExactly(virsh("start " + spec.name()));
        assertThat(start.facts()).containsEntry("domainState", "running");
        assertThat(worker.hypervisor().state(vm)).isEqualTo(DomainState.RUNNING);
        HostSnapshot running = worker.reconciler().snapshot();
        assertThat(running.domains()).filteredOn(d -> d.uuid().equals(vm)).singleElement()
                .satisfies(d -> assertThat(d.hostDevices()).containsExactlyElementsOf(devices));
        assertThat(running.activePartitions()).contains(Set.of(PAIR));
        assertThat(running.devicesOnVfio()).containsExactlyElementsOf(devices);

        // ---- delete: stop → undefine → deactivate → rebind → reset
        JobResult stop = ok(simple(JobKind.STOP_DOMAIN));
        assertThat(stop.steps()).extracting(JobResult.Step::command)
                .containsExactly(virsh("shutdown " + spec.name()));
        assertThat(worker.hypervisor().state(vm)).isEqualTo(DomainState.SHUT_OFF);
        assertThat(host.fmpm().activePartitions()).containsExactly(PAIR);

        ok(simple(JobKind.UNDEFINE_DOMAIN));
        assertThat(worker.hypervisor().state(vm)).isEqualTo(DomainState.NOT_DEFINED);
        assertThat(worker.domainXmlFile(vm)).doesNotExist();
        assertThat(worker.ncclTopologyFile(vm)).doesNotExist();
        assertThat(drivers()).as("still on vfio-pci until rebound").containsOnly("vfio-pci");

        JobResult deactivate = ok(job(JobKind.DEACTIVATE_PARTITION, List.of(), PAIR, null));
        assertThat(deactivate.steps()).extracting(JobResult.Step::command).containsExactly("fmpm -d 3");
        assertThat(host.fmpm().activePartitions()).isEmpty();

        ok(job(JobKind.REBIND_HOST_DRIVER, devices, null, "nvidia"));
        assertThat(drivers()).containsExactly("nvidia", "mlx5_core", "nvidia");
        assertThat(host.nvidiaSmi().run("-q").stdout()).contains("00000000:3A:00.0", "00000000:5D:00.0");

        ok(job(JobKind.RESET_GPUS, gpus, null, null));
        assertThat(gpus).allSatisfy(g -> assertThat(host.kernel().resetCount(g)).isEqualTo(2));
        HostSnapshot after = worker.reconciler().snapshot();
        assertThat(after.activePartitions()).contains(Set.of());
        assertThat(after.devicesOnVfio()).isEmpty();
        assertThat(after.domains()).extracting(DomainStatus::uuid).doesNotContain(vm);
    }

    @Test
    void everyJobTwiceIsHarmless() throws Exception {
        List<Job> create = List.of(job(JobKind.RESET_GPUS, gpus, null, null), job(JobKind.ACTIVATE_PARTITION, List.of(), PAIR, null),
                job(JobKind.BIND_VFIO, devices, null, null), defineJob(spec), simple(JobKind.START_DOMAIN));
        List<Job> delete = List.of(simple(JobKind.STOP_DOMAIN), simple(JobKind.UNDEFINE_DOMAIN),
                job(JobKind.DEACTIVATE_PARTITION, List.of(), PAIR, null), job(JobKind.REBIND_HOST_DRIVER, devices, null, "nvidia"),
                job(JobKind.RESET_GPUS, gpus, null, null));
        List<JobResult> second = new ArrayList<>();
        for (Job j : create) {
            ok(j);
            second.add(ok(j));
        }
        assertThat(host.fmpm().activePartitions()).containsExactly(PAIR);
        assertThat(drivers()).containsOnly("vfio-pci");
        assertThat(worker.hypervisor().state(vm)).isEqualTo(DomainState.RUNNING);
        assertThat(second.get(1).steps()).singleElement().satisfies(s -> {
            assertThat(s.name()).isEqualTo("partition 3 already active");
            assertThat(s.exitCode()).isEqualTo(239);
            assertThat(s.ok()).isTrue();
        });
        assertThat(second.get(2).steps()).filteredOn(s -> s.command().startsWith("echo")).as("no sysfs write").isEmpty();
        assertThat(second.get(3).steps()).extracting(JobResult.Step::name).contains("redefine domain " + spec.name()
                + " (already defined)");
        assertThat(second.get(4).steps()).singleElement()
                .satisfies(s -> assertThat(s.name()).isEqualTo("domain " + spec.name() + " already running"));

        second.clear();
        for (Job j : delete) {
            ok(j);
            int writes = host.kernel().writes().size();
            second.add(ok(j));
            if (j.kind() != JobKind.RESET_GPUS) {
                assertThat(host.kernel().writes()).as("%s again writes nothing", j.kind()).hasSize(writes);
            }
        }
        assertThat(second.get(0).steps()).singleElement()
                .satisfies(s -> assertThat(s.name()).isEqualTo("domain " + spec.name() + " already stopped"));
        assertThat(second.get(1).steps()).singleElement()
                .satisfies(s -> assertThat(s.name()).isEqualTo("domain " + vm + " not defined"));
        assertThat(second.get(2).steps()).singleElement().satisfies(s -> {
            assertThat(s.name()).isEqualTo("partition 3 already inactive");
            assertThat(s.exitCode()).isEqualTo(238);
        });
        assertThat(host.fmpm().activePartitions()).isEmpty();
        assertThat(drivers()).containsExactly("nvidia", "mlx5_core", "nvidia");
        assertThat(worker.hypervisor().state(vm)).isEqualTo(DomainState.NOT_DEFINED);
    }

    // ---- the create steps as one SEQUENCE job ----------------------------------------------------------

    private Job createSequence() {
        return Job.sequence(UUID.randomUUID(), vm, 1, List.of(job(JobKind.RESET_GPUS, gpus, null, null),
                job(JobKind.ACTIVATE_PARTITION, List.of(), PAIR, null), job(JobKind.BIND_VFIO, devices, null, null),
                defineJob(spec), simple(JobKind.START_DOMAIN)));
    }

    @Test
    void aSequenceRunsTheCreateStepsInOrderAndReportsEveryStep() throws Exception {
        JobResult r = ok(createSequence());

        assertThat(host.fmpm().activePartitions()).containsExactly(PAIR);
        assertThat(drivers()).containsOnly("vfio-pci");
        assertThat(worker.hypervisor().state(vm)).isEqualTo(DomainState.RUNNING);
        assertThat(r.steps()).extracting(JobResult.Step::command).containsSubsequence(
                "echo 1 > /sys/bus/pci/devices/0000:3a:00.0/reset", "fmpm -a 3",
                "echo vfio-pci > /sys/bus/pci/devices/0000:3a:00.0/driver_override",
                virsh("define " + worker.domainXmlFile(vm)), virsh("start " + spec.name()));
        assertThat(r.steps()).filteredOn(s -> s.command().equals("fmpm -a 3")).singleElement().satisfies(s -> {
            assertThat(s.name()).isEqualTo("ACTIVATE_PARTITION: activate partition 3");
            assertThat(s.exitCode()).isZero();
        });
        List<String> kinds = new ArrayList<>();
        for (JobResult.Step s : r.steps()) {
            String kind = s.name().substring(0, s.name().indexOf(": "));
            if (kinds.isEmpty() || !kinds.get(kinds.size() - 1).equals(kind)) {
                kinds.add(kind);
            }
        }
        assertThat(kinds).containsExactly("RESET_GPUS", "ACTIVATE_PARTITION", "BIND_VFIO", "DEFINE_DOMAIN",
                "START_DOMAIN");
        assertThat(r.facts()).containsEntry("domainState", "running").containsEntry("driver.0000:3b:00.0", "vfio-pci")
                .containsEntry(JobResult.COMPLETED_KINDS, "RESET_GPUS,ACTIVATE_PARTITION,BIND_VFIO,DEFINE_DOMAIN,START_DOMAIN")
                .doesNotContainKey(JobResult.FAILED_KIND);
    }

    @Test
    void aSequenceDeliveredAgainAfterItRanIsHarmless() throws Exception {
        Job sequence = createSequence();
        ok(sequence);
        int resets = host.kernel().resetCount(gpus.get(0));

        JobResult again = ok(sequence.withAttempt(2)); // its result was lost: the lease ran out
        assertThat(host.kernel().resetCount(gpus.get(0))).as("no reset under the VM's own running guest")
                .isEqualTo(resets);
        assertThat(again.steps().get(0).name()).isEqualTo("RESET_GPUS: skip reset: domain " + spec.name()
                + " of this VM already runs on the devices");
        assertThat(again.steps()).extracting(JobResult.Step::name).contains(
                "ACTIVATE_PARTITION: partition 3 already active", "START_DOMAIN: domain " + spec.name() + " already running");
        assertThat(worker.hypervisor().state(vm)).isEqualTo(DomainState.RUNNING);
        assertThat(drivers()).containsOnly("vfio-pci");

        // outside a sequence a reset under a running guest is still refused
        assertThat(worker.execute(job(JobKind.RESET_GPUS, gpus, null, null)).errorCode())
                .isEqualTo(ErrorCodes.DEVICE_BUSY);
    }

    @Test
    void aSequenceStopsAtTheFirstFailureAndNamesIt() throws Exception {
        ok(job(JobKind.ACTIVATE_PARTITION, List.of(), 1, null)); // {1,2,3,4} overlaps the pair

        JobResult r = worker.execute(createSequence());

        assertThat(r.success()).isFalse();
        assertThat(r.errorCode()).isEqualTo(ErrorCodes.PARTITION_CONFLICT);
        assertThat(r.error()).contains("partition 3 overlaps an active partition");
        assertThat(r.facts()).containsEntry(JobResult.FAILED_KIND, "ACTIVATE_PARTITION")
                .containsEntry(JobResult.COMPLETED_KINDS, "RESET_GPUS");
        JobResult.Step failed = r.steps().stream().filter(s -> !s.ok()).findFirst().orElseThrow();
        assertThat(failed.name()).startsWith("ACTIVATE_PARTITION: ");
        assertThat(failed.command()).isEqualTo("fmpm -a 3");
        assertThat(failed.exitCode()).isNotZero();
        assertThat(r.steps()).as("nothing after the failing step ran")
                .noneMatch(s -> s.name().startsWith("BIND_VFIO") || s.name().startsWith("DEFINE_DOMAIN"));
        assertThat(drivers()).containsExactly("nvidia", "mlx5_core", "nvidia");
        assertThat(worker.hypervisor().state(vm)).isEqualTo(DomainState.NOT_DEFINED);
    }

    @Test
    void aSequenceOfNothingOrOfAnotherVmIsInvalid() {
        assertThat(worker.execute(Job.sequence(UUID.randomUUID(), vm, 1, List.of())).errorCode())
                .isEqualTo(ErrorCodes.INVALID_JOB);
        Job foreign = new Job(UUID.randomUUID(), JobKind.START_DOMAIN, UUID.randomUUID(), 1, List.of(), null, null,
                null, null);
        JobResult r = worker.execute(Job.sequence(UUID.randomUUID(), vm, 1, List.of(foreign)));
        assertThat(r.errorCode()).isEqualTo(ErrorCodes.INVALID_JOB);
        assertThat(r.facts()).containsEntry(JobResult.FAILED_KIND, "START_DOMAIN");
        Job nested = Job.sequence(UUID.randomUUID(), vm, 1, List.of(Job.sequence(UUID.randomUUID(), vm, 1,
                List.of(simple(JobKind.START_DOMAIN)))));
        assertThat(worker.execute(nested).errorCode()).isEqualTo(ErrorCodes.INVALID_JOB);
    }

    // ---- the delete steps as one TEARDOWN job ------------------------------------------------------------

    private Job teardown() {
        return Job.teardown(UUID.randomUUID(), vm, 1, List.of(simple(JobKind.STOP_DOMAIN), simple(JobKind.UNDEFINE_DOMAIN),
                job(JobKind.DEACTIVATE_PARTITION, List.of(), PAIR, null), job(JobKind.REBIND_HOST_DRIVER, devices, null, "nvidia"),
                job(JobKind.RESET_GPUS, gpus, null, null)));
    }

    @Test
    void aTeardownUndoesTheCreateInOrder() throws Exception {
        ok(createSequence());

        JobResult r = ok(teardown());

        assertThat(host.fmpm().activePartitions()).isEmpty();
        assertThat(drivers()).containsExactly("nvidia", "mlx5_core", "nvidia");
        assertThat(worker.hypervisor().state(vm)).isEqualTo(DomainState.NOT_DEFINED);
        assertThat(r.steps()).extracting(JobResult.Step::command).containsSubsequence("fmpm -d 3",
                "echo 1 > /sys/bus/pci/devices/0000:3a:00.0/reset");
        assertThat(r.facts()).containsEntry(JobResult.COMPLETED_KINDS,
                "STOP_DOMAIN,UNDEFINE_DOMAIN,DEACTIVATE_PARTITION,REBIND_HOST_DRIVER,RESET_GPUS")
                .doesNotContainKey(JobResult.FAILED_KIND).doesNotContainKey(JobResult.FAILED_KINDS);
        assertThat(ok(teardown()).success()).as("delivered again").isTrue();
    }

    @Test
    void aTeardownRunsEveryStepEvenAfterOneFails() throws Exception {
        ok(createSequence());
        // the guest's QEMU still holds /dev/vfio/N when the worker rebinds: the rebind fails
        host.kernel().holdVfioGroup("0000:3a:00.0", "exiting qemu");
        int resets = host.kernel().resetCount(gpus.get(1));

        JobResult r = worker.execute(teardown());

        assertThat(r.success()).isFalse();
        assertThat(r.errorCode()).isEqualTo(ErrorCodes.DEVICE_BUSY);
        assertThat(r.facts()).containsEntry(JobResult.FAILED_KIND, "REBIND_HOST_DRIVER");
        assertThat(r.facts().get(JobResult.FAILED_KINDS)).startsWith("REBIND_HOST_DRIVER");
        assertThat(r.steps()).as("the steps after the failed one ran too")
                .anyMatch(s -> s.name().startsWith("RESET_GPUS: "));
        assertThat(host.kernel().resetCount(gpus.get(1))).isGreaterThan(resets);
        assertThat(host.fmpm().activePartitions()).as("the steps before it ran").isEmpty();
        assertThat(worker.hypervisor().state(vm)).isEqualTo(DomainState.NOT_DEFINED);
    }

    @Test
    void anOverlappingPartitionIsAConflict() {
        ok(job(JobKind.ACTIVATE_PARTITION, List.of(), PAIR, null));

        JobResult r = worker.execute(job(JobKind.ACTIVATE_PARTITION, List.of(), 1, null)); // {1,2,3,4}
        assertThat(r.success()).isFalse();
        assertThat(r.errorCode()).isEqualTo(ErrorCodes.PARTITION_CONFLICT);
        assertThat(r.error()).contains("partition 1 overlaps an active partition");
        assertThat(r.steps()).extracting(JobResult.Step::command).contains("fmpm -a 1");
        assertThat(r.steps()).filteredOn(s -> s.command().equals("fmpm -a 1")).singleElement()
                .satisfies(s -> assertThat(s.ok()).isFalse());
        assertThat(host.fmpm().activePartitions()).containsExactly(PAIR);
    }

    @Test
    void aGpuThatWillNotLetGoFailsDeviceBusy() {
        host.kernel().refuseUnbind("0000:5d:00.0");

        JobResult r = worker.execute(job(JobKind.BIND_VFIO, devices, null, null));

        assertThat(r.success()).isFalse();
        assertThat(r.errorCode()).isEqualTo(ErrorCodes.DEVICE_BUSY);
        assertThat(r.error()).contains("0000:5d:00.0").contains("Device or resource busy");
        JobResult.Step last = r.steps().get(r.steps().size() - 1);
        assertThat(last.ok()).isFalse();
        assertThat(last.command()).isEqualTo("echo 0000:5d:00.0 > /sys/bus/pci/devices/0000:5d:00.0/driver/unbind");
        assertThat(last.output()).contains("Device or resource busy");
        assertThat(host.driver("0000:5d:00.0")).contains("nvidia");
    }

    @Test
    void aResetTheKernelRefusesIsReported() {
        host.kernel().failReset("0000:5d:00.0");

        JobResult r = worker.execute(job(JobKind.RESET_GPUS, gpus, null, null));

        assertThat(r.success()).isFalse();
        assertThat(r.errorCode()).isEqualTo(ErrorCodes.RESET_FAILED);
        assertThat(r.error()).contains("Inappropriate ioctl for device");
        assertThat(r.steps()).extracting(JobResult.Step::ok).containsExactly(true, false);
    }

    @Test
    void aDefinitionLibvirtRefusesIsALibvirtError() throws Exception {
        DomainSpec slash = DomainSpecs.forGpus(host.discover(), UUID.randomUUID(), "tenant/vm", gpus, 2, 8192, null, null);
        JobResult r = worker.execute(defineJob(slash));
        assertThat(r.success()).isFalse();
        assertThat(r.errorCode()).isEqualTo(ErrorCodes.LIBVIRT_ERROR);
        assertThat(r.error()).contains("cannot contain '/'");
        assertThat(r.steps()).last().satisfies(s -> assertThat(s.ok()).isFalse());

        // a stale domain of another VM still has this name
        ok(defineJob(spec));
        DomainSpec sameName = DomainSpecs.forGpus(host.discover(), UUID.randomUUID(), spec.name(), gpus, 2, 8192, null, null);
        JobResult clash = worker.execute(defineJob(sameName));
        assertThat(clash.errorCode()).isEqualTo(ErrorCodes.LIBVIRT_ERROR);
        assertThat(clash.error()).contains("already exists");
        assertThat(worker.ncclTopologyFile(sameName.vmId())).doesNotExist();
    }

    @Test
    void theVmGetsItsOwnDiskAndSeedWhichAReDefineKeepsAndUndefineRemoves() throws Exception {
        String image = "/var/lib/gpucloud/images/ubuntu-24.04.qcow2";
        DomainSpec booted = DomainSpecs.forGpus(host.discover(), vm, spec.name(), gpus, 8, 65536, image, "default");
        DomainSpec seeded = new DomainSpec(vm, booted.name(), booted.memoryMiB(), booted.vcpus(), booted.cells(),
                booted.devices(), booted.platform(), image, "default", new DomainSpec.GuestInit(booted.name(),
                "#cloud-config\npackages: [htop]\n", "10.1.0.10", 16, List.of("ssh-ed25519 AAAAC3Nz ana@laptop")));

        JobResult defined = ok(defineJob(seeded));

        Path disk = worker.bootDiskFile(vm);
        assertThat(disk).exists();
        assertThat(defined.facts()).containsEntry("bootDisk", disk.toString())
                .containsEntry("cloudInitSeed", worker.seedFile(vm).toString());
        assertThat(defined.steps()).extracting(JobResult.Step::command)
                .contains("qemu-img create -f qcow2 -F qcow2 -b " + image + " " + disk);
        String xml = Files.readString(worker.domainXmlFile(vm));
        assertThat(xml).contains("<source file=\"" + disk + "\"/>").doesNotContain("<source file=\"" + image + "\"/>")
                .contains("<source file=\"" + worker.seedFile(vm) + "\"/>");
        Path seedFiles = GuestImages.seedFiles(worker.seedFile(vm)); // what a simulated host keeps of the seed
        assertThat(Files.readString(seedFiles.resolve("user-data"))).isEqualTo("#cloud-config\npackages: [htop]\n");
        assertThat(Files.readString(seedFiles.resolve("meta-data"))).contains("ssh-ed25519 AAAAC3Nz ana@laptop");
        assertThat(Files.readString(seedFiles.resolve("network-config"))).contains("10.1.0.10/16")
                .contains(CloudInitSeed.macOf(vm));
        // the guest's NCCL gets the topology file the host wrote, without anyone setting NCCL_TOPO_FILE
        tools.jackson.databind.JsonNode vendor = tools.jackson.databind.json.JsonMapper.builder().build().readTree(
                Files.readString(seedFiles.resolve("vendor-data")).replaceFirst("^#cloud-config\n", ""));
        assertThat(vendor.get("write_files").get(0).get("content").asString())
                .isEqualTo(Files.readString(worker.ncclTopologyFile(vm))).contains("busid=\"0000:23:00.0\"");

        Files.write(disk, new byte[] {7}, java.nio.file.StandardOpenOption.APPEND); // the guest wrote something
        long written = Files.size(disk);
        JobResult again = ok(defineJob(seeded));
        assertThat(Files.size(disk)).as("a define that runs again keeps the VM's disk").isEqualTo(written);
        assertThat(again.steps()).anySatisfy(st -> assertThat(st.output()).contains("exists: kept"));

        ok(simple(JobKind.UNDEFINE_DOMAIN));
        assertThat(disk).doesNotExist();
        assertThat(worker.seedFile(vm)).doesNotExist();
        assertThat(seedFiles).doesNotExist();
    }

    @Test
    void aBootImageTheHostDoesNotHaveIsAnImageErrorAndNothingIsDefined() throws Exception {
        HostActions sim = HostActions.forSimulatedHost(host);
        // this host's real qemu-img: the image is not there
        HostActions withTools = new HostActions(sim.sysfs(), sim.binderTiming(), sim.fmpm(), sim.hypervisor(), sim.cpu(),
                sim.catalog(), sim.shutdownPoll(), sim.managementNetwork(), sim.nvidiaSmi(), GuestImages.tools());
        Path missing = stateDir.resolve("images/not-here.qcow2");
        DomainSpec booted = DomainSpecs.forGpus(host.discover(), vm, spec.name(), gpus, 8, 65536, missing.toString(),
                "default");
        try (JobExecutor real = new JobExecutor(withTools, stateDir.resolve("real"))) {
            JobResult r = real.execute(defineJob(booted));

            assertThat(r.success()).isFalse();
            assertThat(r.errorCode()).isEqualTo(ErrorCodes.IMAGE_ERROR);
            assertThat(r.error()).contains(missing.toString()).contains("No such file or directory");
            assertThat(r.steps()).last().satisfies(st -> {
                assertThat(st.ok()).isFalse();
                assertThat(st.exitCode()).isEqualTo(1);
                assertThat(st.command()).startsWith("qemu-img create -f qcow2 -F qcow2 -b " + missing);
            });
            assertThat(real.hypervisor().find(vm)).as("nothing defined").isEmpty();
            assertThat(real.bootDiskFile(vm)).doesNotExist();
        }
    }

    @Test
    void aSpecThatCannotBeRenderedNeverReachesLibvirt() throws Exception {
        DomainSpec odd = new DomainSpec(vm, spec.name(), 1500, spec.vcpus(), List.of(new DomainSpec.NumaCell(0, 0, 1500)),
                spec.devices(), spec.platform(), null, null);
        JobResult r = worker.execute(defineJob(odd));
        assertThat(r.errorCode()).isEqualTo(ErrorCodes.INVALID_DOMAIN_SPEC);
        assertThat(r.error()).contains("1500 MiB");
        assertThat(worker.hypervisor().state(vm)).isEqualTo(DomainState.NOT_DEFINED);
    }

    @Test
    void nothingIsTakenFromUnderARunningVm() throws Exception {
        for (Job j : List.of(job(JobKind.ACTIVATE_PARTITION, List.of(), PAIR, null), job(JobKind.BIND_VFIO, devices, null, null),
                defineJob(spec), simple(JobKind.START_DOMAIN))) {
            ok(j);
        }

        JobResult deactivate = worker.execute(job(JobKind.DEACTIVATE_PARTITION, List.of(), PAIR, null));
        assertThat(deactivate.errorCode()).isEqualTo(ErrorCodes.DOMAIN_RUNNING);
        assertThat(host.fmpm().activePartitions()).containsExactly(PAIR);

        JobResult undefine = worker.execute(simple(JobKind.UNDEFINE_DOMAIN));
        assertThat(undefine.errorCode()).isEqualTo(ErrorCodes.DOMAIN_RUNNING);

        JobResult rebind = worker.execute(job(JobKind.REBIND_HOST_DRIVER, devices, null, "nvidia"));
        assertThat(rebind.errorCode()).isEqualTo(ErrorCodes.DEVICE_BUSY);
        assertThat(rebind.error()).contains("0000:3a:00.0 (domain " + spec.name() + ", running)");

        JobResult reset = worker.execute(job(JobKind.RESET_GPUS, gpus, null, null));
        assertThat(reset.errorCode()).isEqualTo(ErrorCodes.DEVICE_BUSY);
        assertThat(host.kernel().resetCount(gpus.get(0))).isZero();

        Job otherVm = new Job(UUID.randomUUID(), JobKind.BIND_VFIO, UUID.randomUUID(), 1, devices, null, null, null, null);
        assertThat(worker.execute(otherVm).errorCode()).as("another VM's bind").isEqualTo(ErrorCodes.DEVICE_BUSY);
        assertThat(drivers()).containsOnly("vfio-pci");
        assertThat(worker.hypervisor().state(vm)).isEqualTo(DomainState.RUNNING);
    }

    @Test
    void anOldVmStillHoldingItsVfioGroupBlocksTheRebind() {
        for (Job j : List.of(job(JobKind.BIND_VFIO, devices, null, null), defineJob(spec), simple(JobKind.START_DOMAIN),
                simple(JobKind.STOP_DOMAIN), simple(JobKind.UNDEFINE_DOMAIN))) {
            ok(j);
        }
        // libvirt says the domain is gone, but its QEMU has not closed /dev/vfio/N yet
        host.kernel().holdVfioGroup("0000:3a:00.0", "exiting qemu");

        JobResult r = worker.execute(job(JobKind.REBIND_HOST_DRIVER, devices, null, "nvidia"));
        assertThat(r.errorCode()).isEqualTo(ErrorCodes.DEVICE_BUSY);
        assertThat(r.error()).contains("Device or resource busy");
        assertThat(host.driver("0000:3a:00.0")).contains("vfio-pci");

        host.kernel().releaseVfioGroup("0000:3a:00.0");
        ok(job(JobKind.REBIND_HOST_DRIVER, devices, null, "nvidia"));
        assertThat(drivers()).containsExactly("nvidia", "mlx5_core", "nvidia");
    }

    @Test
    void aGuestIgnoringShutdownIsDestroyedAfterTheTimeout() throws Exception {
        worker.close();
        Hypervisor deaf = new ForwardingHypervisor(LibvirtHypervisor.openPrivateTestDriver(stateDir)) {
            @Override
            public void shutdown(UUID id) {
                // the guest never reacts to the ACPI power button
            }
        };
        worker = new JobExecutor(HostActions.forSimulatedHost(host, deaf), stateDir);
        ok(defineJob(spec));
        ok(simple(JobKind.START_DOMAIN));

        JobResult r = ok(new Job(UUID.randomUUID(), JobKind.STOP_DOMAIN, vm, 1, List.of(), null, null, 1, null));

        assertThat(r.steps()).extracting(JobResult.Step::name, JobResult.Step::ok).containsExactly(
                org.assertj.core.groups.Tuple.tuple("shut down domain " + spec.name(), false),
                org.assertj.core.groups.Tuple.tuple("destroy domain " + spec.name(), true));
        assertThat(r.steps().get(0).output()).contains("still running after 1 s");
        assertThat(worker.hypervisor().state(vm)).isEqualTo(DomainState.SHUT_OFF);
    }

    @Test
    void fabricManagerTroubleHasItsOwnCodes() {
        host.fmpm().setRunning(false);
        JobResult down = worker.execute(job(JobKind.ACTIVATE_PARTITION, List.of(), PAIR, null));
        assertThat(down.errorCode()).isEqualTo(ErrorCodes.FABRIC_MANAGER_DOWN);
        assertThat(down.error()).contains("Failed to connect to Fabric Manager");

        host.fmpm().setRunning(true);
        JobResult unknown = worker.execute(job(JobKind.ACTIVATE_PARTITION, List.of(), 40, null));
        assertThat(unknown.errorCode()).isEqualTo(ErrorCodes.PARTITION_UNKNOWN);
    }

    @Test
    void jobsWithoutTheirPayloadOrTargetFailCleanly() {
        assertThat(worker.execute(job(JobKind.BIND_VFIO, List.of(), null, null)).errorCode()).isEqualTo(ErrorCodes.INVALID_JOB);
        assertThat(worker.execute(job(JobKind.ACTIVATE_PARTITION, List.of(), null, null)).errorCode())
                .isEqualTo(ErrorCodes.INVALID_JOB);
        assertThat(worker.execute(job(JobKind.RESET_GPUS, List.of("18:00"), null, null)).errorCode())
                .isEqualTo(ErrorCodes.INVALID_JOB);
        assertThat(worker.execute(job(JobKind.BIND_VFIO, List.of("0000:77:00.0"), null, null)).errorCode())
                .isEqualTo(ErrorCodes.DEVICE_NOT_FOUND);
        JobResult start = worker.execute(simple(JobKind.START_DOMAIN));
        assertThat(start.errorCode()).isEqualTo(ErrorCodes.DOMAIN_NOT_DEFINED);
        assertThat(start.success()).isFalse();
        assertThat(worker.execute(null).errorCode()).isEqualTo(ErrorCodes.INVALID_JOB);
    }

    @Test
    void afterAFabricManagerRestartTheSnapshotShowsWhatToReactivate() {
        for (Job j : List.of(job(JobKind.ACTIVATE_PARTITION, List.of(), PAIR, null), job(JobKind.BIND_VFIO, devices, null, null),
                defineJob(spec), simple(JobKind.START_DOMAIN))) {
            ok(j);
        }
        host.fmpm().setRunning(false);
        HostSnapshot fmDown = worker.reconciler().snapshot();
        assertThat(fmDown.activePartitions()).isEmpty();
        assertThat(fmDown.problems()).singleElement().asString().contains("NOT_RUNNING");

        host.fmpm().setRunning(true); // a restart forgets the active partitions
        HostSnapshot s = worker.reconciler().snapshot();
        assertThat(s.problems()).isEmpty();
        assertThat(s.activePartitions()).contains(Set.of());
        assertThat(s.domains()).filteredOn(d -> d.uuid().equals(vm)).singleElement()
                .satisfies(d -> assertThat(d.state()).isEqualTo(DomainState.RUNNING));
        ok(job(JobKind.ACTIVATE_PARTITION, List.of(), PAIR, null));
        assertThat(worker.reconciler().snapshot().activePartitions()).contains(Set.of(PAIR));
    }

    @Test
    void simulatedHostsInOneJvmEachHaveTheirOwnLibvirt() throws Exception {
        for (Job j : List.of(job(JobKind.BIND_VFIO, devices, null, null), defineJob(spec), simple(JobKind.START_DOMAIN))) {
            ok(j);
        }
        SimulatedHost twin = hosts.create(SimulatedHostSpec.hgxH100("twin"));
        try (JobExecutor other = JobExecutor.forSimulatedHost(twin, stateDir.resolve("twin"))) {
            assertThat(other.hypervisor().uri()).isNotEqualTo(worker.hypervisor().uri()).startsWith("test:///");
            assertThat(other.reconciler().snapshot().domains()).isEmpty();
            // the same addresses on the other host are free: this host's running VM is no reason to refuse
            Job bind = new Job(UUID.randomUUID(), JobKind.BIND_VFIO, UUID.randomUUID(), 1, devices, null, null, null, null);
            assertThat(other.execute(bind).success()).isTrue();
            assertThat(twin.driver("0000:3a:00.0")).contains("vfio-pci");
        }
        assertThat(worker.hypervisor().state(vm)).isEqualTo(DomainState.RUNNING);
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    private String virsh(String args) {
        return "virsh -c " + worker.hypervisor().uri() + " " + args;
    }

    private JobResult ok(Job job) {
        JobResult r = worker.execute(job);
        assertThat(r.success()).as("%s: %s %s%n%s", job.kind(), r.errorCode(), r.error(), r.steps()).isTrue();
        assertThat(r.steps()).as("%s records its steps", job.kind()).isNotEmpty().allMatch(s -> s.ok() || isRecovered(r, s));
        return r;
    }

    /** A failed step inside a successful job: the graceful shutdown a destroy had to finish. */
    private static boolean isRecovered(JobResult r, JobResult.Step s) {
        return s.name().startsWith("shut down domain") && r.steps().get(r.steps().size() - 1).ok();
    }

    private Job job(JobKind kind, List<String> bdfs, Integer partition, String driver) {
        return new Job(UUID.randomUUID(), kind, vm, 1, bdfs, partition, driver, null, null);
    }

    private Job simple(JobKind kind) {
        return job(kind, List.of(), null, null);
    }

    private Job defineJob(DomainSpec domain) {
        return new Job(UUID.randomUUID(), JobKind.DEFINE_DOMAIN, domain.vmId(), 1, List.of(), null, null, null, domain);
    }

    private List<String> drivers() {
        return devices.stream().map(d -> host.driver(d).orElse("none")).toList();
    }

    private static List<String> bdfsOfModules(SimulatedHost host, int... modules) {
        List<String> out = new ArrayList<>();
        for (int m : modules) {
            out.add(host.moduleIds().entrySet().stream().filter(e -> e.getValue() == m).map(Map.Entry::getKey)
                    .findFirst().orElseThrow());
        }
        return out.stream().sorted().toList();
    }

    /** Delegates everything; tests override what a misbehaving guest or libvirt does. */
    static class ForwardingHypervisor implements Hypervisor {
        private final Hypervisor delegate;

        ForwardingHypervisor(Hypervisor delegate) {
            this.delegate = delegate;
        }

        @Override
        public String uri() {
            return delegate.uri();
        }

        @Override
        public DomainStatus define(String xml) throws HypervisorException {
            return delegate.define(xml);
        }

        @Override
        public Optional<DomainStatus> find(UUID id) throws HypervisorException {
            return delegate.find(id);
        }

        @Override
        public void start(UUID id) throws HypervisorException {
            delegate.start(id);
        }

        @Override
        public void shutdown(UUID id) throws HypervisorException {
            delegate.shutdown(id);
        }

        @Override
        public void destroy(UUID id) throws HypervisorException {
            delegate.destroy(id);
        }

        @Override
        public void undefine(UUID id) throws HypervisorException {
            delegate.undefine(id);
        }

        @Override
        public List<DomainStatus> listDomains() throws HypervisorException {
            return delegate.listDomains();
        }

        @Override
        public void close() {
            delegate.close();
        }
    }
}
