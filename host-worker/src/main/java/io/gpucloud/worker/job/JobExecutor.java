package io.gpucloud.worker.job;

import io.gpucloud.protocol.job.DomainSpec;
import io.gpucloud.protocol.job.Job;
import io.gpucloud.protocol.job.JobKind;
import io.gpucloud.protocol.job.JobResult;
import io.gpucloud.worker.action.ActionException;
import io.gpucloud.worker.action.ErrorCodes;
import io.gpucloud.worker.action.StepLog;
import io.gpucloud.worker.fabric.FabricManagerClient;
import io.gpucloud.worker.fabric.FabricManagerException;
import io.gpucloud.worker.libvirt.BootImageDirectory;
import io.gpucloud.worker.libvirt.DomainState;
import io.gpucloud.worker.libvirt.DomainStatus;
import io.gpucloud.worker.libvirt.CloudInitSeed;
import io.gpucloud.worker.libvirt.DomainXmlBuilder;
import io.gpucloud.worker.libvirt.GuestImageException;
import io.gpucloud.worker.libvirt.GuestImages;
import io.gpucloud.worker.libvirt.GuestMedia;
import io.gpucloud.worker.libvirt.Hypervisor;
import io.gpucloud.worker.libvirt.HypervisorException;
import io.gpucloud.worker.libvirt.InvalidDomainSpecException;
import io.gpucloud.worker.libvirt.LibvirtHypervisor;
import io.gpucloud.worker.libvirt.NcclTopologyWriter;
import io.gpucloud.worker.pci.Bdf;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.vfio.PciDriverBinder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * Executes the control plane's jobs on this host. Each {@link io.gpucloud.protocol.job.JobKind} maps to
 * the hardware actions of DESIGN.md §4, and every job is idempotent: it looks at the state first and
 * does only what is missing, so a job delivered twice (expired lease, restarted worker) does no harm.
 *
 * <pre>
 * create: one SEQUENCE of RESET_GPUS → ACTIVATE_PARTITION → BIND_VFIO → DEFINE_DOMAIN → START_DOMAIN
 * delete: STOP_DOMAIN → UNDEFINE_DOMAIN → DEACTIVATE_PARTITION → REBIND_HOST_DRIVER → RESET_GPUS
 * host:   SET_VIRTUALIZATION_MODE (nvidia-smi MIG / HAMi-core config, see {@link VirtualizationSwitcher})
 * </pre>
 *
 * A SEQUENCE runs its sub-jobs here one after the other (see {@link JobSequence}). Inside a sequence a
 * RESET_GPUS of devices that the job's own VM already runs on is skipped: an earlier delivery of the
 * same create sequence got as far as starting the domain (its result was lost), and resetting the GPUs
 * under the running guest would be the opposite of idempotent.
 *
 * Guards the order where a wrong one hurts a tenant: no reset, rebind or bind of a device a running
 * domain (of another VM) holds ("device-busy"), no partition deactivation or undefine while the VM's
 * domain runs ("domain-running").
 *
 * <p>{@link #execute} never throws: hardware refusals become {@code success=false} with a stable
 * {@code errorCode} (see {@link ErrorCodes}) and a sentence in {@code error}; every step taken is in the
 * result with the command an operator would type. DEFINE_DOMAIN writes the domain XML and the guest's
 * NCCL topology file to {@link #domainDirectory()} ({@code <vmId>.xml}, {@code <vmId>.nccl-topo.xml}),
 * the cloud-init seed there too ({@code <vmId>.cidata.iso}), and first makes the VM's own disk, a
 * copy-on-write overlay of its boot image ({@code stateDir/disks/<vmId>.qcow2}, kept by later defines);
 * UNDEFINE_DOMAIN removes them all.
 *
 * <p>Thread-safe for jobs on different VMs; the control plane does not send two jobs for one VM at once.
 */
public final class JobExecutor implements AutoCloseable {

    /** Graceful shutdown budget when a STOP_DOMAIN job does not give one. */
    public static final int DEFAULT_STOP_TIMEOUT_SECONDS = 60;

    private final HostActions actions;
    private final PciDriverBinder binder;
    private final DomainXmlBuilder xmlBuilder;
    private final NcclTopologyWriter ncclWriter;
    private final Path domainDir;
    private final Path diskDir;
    private final VirtualizationSwitcher virtualization;

    /**
     * @param stateDir the worker's state directory; domain files go to {@code stateDir/domains}, the VMs'
     *                 disks to {@code stateDir/disks} (QEMU must be able to reach both)
     */
    public JobExecutor(HostActions actions, Path stateDir) {
        this.actions = actions;
        this.binder = new PciDriverBinder(actions.sysfs(), actions.binderTiming());
        this.xmlBuilder = new DomainXmlBuilder(actions.catalog(), actions.managementNetwork());
        this.ncclWriter = new NcclTopologyWriter(actions.catalog(), actions.sysfs());
        this.domainDir = stateDir.resolve("domains");
        this.diskDir = stateDir.resolve("disks");
        this.virtualization = new VirtualizationSwitcher(actions.nvidiaSmi(), stateDir.resolve("virtualization"));
    }

    /** Where SET_VIRTUALIZATION_MODE to hami writes the HAMi-core config (removed for other modes). */
    public Path hamiConfigFile() {
        return virtualization.hamiConfigFile();
    }

    /** A worker for this server: sysfs "/", {@code fmpm} from PATH, {@code qemu:///system}, boot images in {@code images}. */
    public static JobExecutor forThisHost(Path stateDir, BootImageDirectory images) throws HypervisorException {
        return new JobExecutor(HostActions.forThisHost(images), stateDir);
    }

    /**
     * A worker for a simulated host: its kernel, its fmpm, and a libvirt test driver of its own (see
     * {@link HostActions#forSimulatedHost(SimulatedHost)}); its domains exist while the executor is open.
     */
    public static JobExecutor forSimulatedHost(SimulatedHost host, Path stateDir) throws HypervisorException {
        return new JobExecutor(HostActions.forSimulatedHost(host), stateDir);
    }

    /** Where DEFINE_DOMAIN writes {@code <vmId>.xml} and {@code <vmId>.nccl-topo.xml}. */
    public Path domainDirectory() {
        return domainDir;
    }

    public Path domainXmlFile(UUID vmId) {
        return domainDir.resolve(vmId + ".xml");
    }

    public Path ncclTopologyFile(UUID vmId) {
        return domainDir.resolve(vmId + ".nccl-topo.xml");
    }

    /** The VM's own disk: a qcow2 overlay of its boot image, removed with the domain. */
    public Path bootDiskFile(UUID vmId) {
        return diskDir.resolve(vmId + ".qcow2");
    }

    /** The VM's cloud-init seed volume (NoCloud, label cidata). */
    public Path seedFile(UUID vmId) {
        return domainDir.resolve(vmId + ".cidata.iso");
    }

    /** The boot images this host holds (for the heartbeat), or null when it cannot tell. */
    public java.util.List<String> bootImages() {
        return actions.images().bootImages();
    }

    /** Observes domains, active partitions and vfio-bound devices, for restart reconciliation. */
    public Reconciler reconciler() {
        return new Reconciler(actions);
    }

    public Hypervisor hypervisor() {
        return actions.hypervisor();
    }

    public JobResult execute(Job job) {
        if (job != null && job.kind() != null && job.kind().runsSteps()) {
            return JobSequence.run(job, sub -> execute(sub, true));
        }
        return execute(job, false);
    }

    private JobResult execute(Job job, boolean inSequence) {
        StepLog log = new StepLog();
        Map<String, String> facts = new LinkedHashMap<>();
        try {
            if (job == null || job.kind() == null) {
                throw new ActionException(ErrorCodes.INVALID_JOB, "the job names no kind");
            }
            switch (job.kind()) {
                case RESET_GPUS -> resetGpus(job, log, inSequence);
                case ACTIVATE_PARTITION -> activatePartition(job, log, facts);
                case BIND_VFIO -> bindVfio(job, log, facts);
                case DEFINE_DOMAIN -> defineDomain(job, log, facts);
                case START_DOMAIN -> startDomain(job, log, facts);
                case STOP_DOMAIN -> stopDomain(job, log, facts);
                case UNDEFINE_DOMAIN -> undefineDomain(job, log, facts);
                case DEACTIVATE_PARTITION -> deactivatePartition(job, log, facts);
                case REBIND_HOST_DRIVER -> rebindHostDriver(job, log, facts);
                case SET_VIRTUALIZATION_MODE -> setVirtualizationMode(job, log, facts);
                case SEQUENCE, TEARDOWN -> throw new ActionException(ErrorCodes.INVALID_JOB,
                        "a " + job.kind() + " inside a sequence");
            }
            return new JobResult(true, log.steps(), null, null, facts);
        } catch (ActionException e) {
            return new JobResult(false, log.steps(), e.getMessage(), e.errorCode(), facts);
        } catch (RuntimeException | LinkageError e) {
            log.note("unexpected failure", "", String.valueOf(e), false);
            return new JobResult(false, log.steps(), "internal error in the worker: " + e, ErrorCodes.INTERNAL_ERROR,
                    facts);
        }
    }

    @Override
    public void close() {
        actions.hypervisor().close();
    }

    // ---- PCI --------------------------------------------------------------------------------------------

    private void resetGpus(Job job, StepLog log, boolean inSequence) throws ActionException {
        List<String> bdfs = bdfs(job);
        UUID own = inSequence ? job.vmId() : null;
        refuseDevicesOfRunningDomains(bdfs, own, log, "reset");
        if (own != null) {
            for (DomainStatus d : listDomains(log)) {
                if (d.state().isActive() && d.uuid().equals(own) && bdfs.stream().anyMatch(d.hostDevices()::contains)) {
                    log.note("skip reset: domain " + d.name() + " of this VM already runs on the devices",
                            virsh("domstate " + d.name()), d.state().virshName(), true);
                    return;
                }
            }
        }
        for (String bdf : bdfs) {
            binder.reset(bdf, log);
        }
    }

    private void bindVfio(Job job, StepLog log, Map<String, String> facts) throws ActionException {
        List<String> bdfs = bdfs(job);
        refuseDevicesOfRunningDomains(bdfs, job.vmId(), log, "bind");
        for (String bdf : bdfs) {
            binder.bindVfio(bdf, log);
        }
        Set<Integer> checked = new LinkedHashSet<>();
        for (String bdf : bdfs) {
            Optional<Integer> group = binder.iommuGroup(bdf);
            if (group.isEmpty() || checked.add(group.get())) {
                binder.checkGroupViable(bdf, log);
            }
        }
        bdfs.forEach(b -> facts.put("driver." + b, binder.driverOf(b).orElse("none")));
    }

    private void rebindHostDriver(Job job, StepLog log, Map<String, String> facts) throws ActionException {
        List<String> bdfs = bdfs(job);
        String driver = job.driver() == null || job.driver().isBlank() ? "nvidia" : job.driver();
        refuseDevicesOfRunningDomains(bdfs, null, log, "rebind");
        for (String bdf : bdfs) {
            binder.bindHostDriver(bdf, driver, log);
        }
        bdfs.forEach(b -> facts.put("driver." + b, binder.driverOf(b).orElse("none")));
    }

    /** GPUs a running VM passes through are refused before nvidia-smi is asked (it would not see them). */
    private void setVirtualizationMode(Job job, StepLog log, Map<String, String> facts) throws ActionException {
        List<String> bdfs = bdfs(job);
        refuseDevicesOfRunningDomains(bdfs, null, log, "switch the virtualization mode of");
        virtualization.apply(job, bdfs, log, facts);
    }

    /**
     * A device that an active domain passes through must not be reset, rebound or handed to another VM:
     * the guest would lose its GPU mid-flight. {@code owner} may hold them (its own BIND retried).
     */
    private void refuseDevicesOfRunningDomains(List<String> bdfs, UUID owner, StepLog log, String what)
            throws ActionException {
        List<DomainStatus> domains = listDomains(log);
        List<String> held = new ArrayList<>();
        for (DomainStatus d : domains) {
            if (!d.state().isActive() || d.uuid().equals(owner)) {
                continue;
            }
            for (String bdf : bdfs) {
                if (d.hostDevices().contains(bdf)) {
                    held.add(bdf + " (domain " + d.name() + ", " + d.state().virshName() + ")");
                }
            }
        }
        if (!held.isEmpty()) {
            log.note("check no running domain holds the devices", virsh("list"), "in use: " + held, false);
            throw new ActionException(ErrorCodes.DEVICE_BUSY, "cannot " + what + " devices a running VM passes "
                    + "through: " + String.join(", ", held) + "; stop the domain first");
        }
    }

    // ---- Fabric Manager ---------------------------------------------------------------------------------

    private void activatePartition(Job job, StepLog log, Map<String, String> facts) throws ActionException {
        int id = partition(job);
        RecordingFmpm fmpm = new RecordingFmpm(actions.fmpm());
        try {
            FabricManagerClient.Outcome outcome = new FabricManagerClient(fmpm).activate(id);
            boolean already = outcome == FabricManagerClient.Outcome.ALREADY_ACTIVE;
            fmSteps(fmpm, log, already ? "partition " + id + " already active" : "activate partition " + id, true);
            facts.put("partition." + id, "active");
        } catch (FabricManagerException e) {
            fmSteps(fmpm, log, "activate partition " + id, false);
            throw fabricFailure(e);
        }
    }

    private void deactivatePartition(Job job, StepLog log, Map<String, String> facts) throws ActionException {
        int id = partition(job);
        if (job.vmId() != null) {
            DomainState state = domainState(job.vmId(), log);
            if (state.isActive()) {
                log.note("check domain " + job.vmId() + " is stopped", virsh("domstate " + job.vmId()),
                        state.virshName(), false);
                throw new ActionException(ErrorCodes.DOMAIN_RUNNING, "will not deactivate partition " + id
                        + " while VM " + job.vmId() + " runs on its GPUs (" + state.virshName() + "); stop it first");
            }
        }
        if (!job.bdfs().isEmpty()) {
            List<String> bdfs = bdfs(job);
            for (DomainStatus d : listDomains(log)) {
                if (d.state().isActive() && d.hostDevices().stream().anyMatch(bdfs::contains)) {
                    log.note("check no running domain uses partition " + id, virsh("list"), d.name(), false);
                    throw new ActionException(ErrorCodes.DOMAIN_RUNNING, "will not deactivate partition " + id
                            + ": domain " + d.name() + " still runs on its GPUs");
                }
            }
        }
        RecordingFmpm fmpm = new RecordingFmpm(actions.fmpm());
        try {
            FabricManagerClient.Outcome outcome = new FabricManagerClient(fmpm).deactivate(id);
            boolean already = outcome == FabricManagerClient.Outcome.ALREADY_INACTIVE;
            fmSteps(fmpm, log, already ? "partition " + id + " already inactive" : "deactivate partition " + id, true);
            facts.put("partition." + id, "inactive");
        } catch (FabricManagerException e) {
            fmSteps(fmpm, log, "deactivate partition " + id, false);
            throw fabricFailure(e);
        }
    }

    /** One step per fmpm call; the activate/deactivate call carries the outcome, listings their own exit. */
    private static void fmSteps(RecordingFmpm fmpm, StepLog log, String mainName, boolean success) {
        for (RecordingFmpm.Call call : fmpm.calls()) {
            boolean main = call.args().contains("-a") || call.args().contains("-d");
            String name = main ? mainName : "list partitions";
            boolean ok = main ? success : call.result().exitCode() == 0;
            log.start(name, call.command()).done(name, call.result().exitCode(), call.output(), ok);
        }
    }

    private static ActionException fabricFailure(FabricManagerException e) {
        String code = switch (e.reason()) {
            case PARTITION_CONFLICT -> ErrorCodes.PARTITION_CONFLICT;
            case NOT_RUNNING -> ErrorCodes.FABRIC_MANAGER_DOWN;
            case NOT_INSTALLED -> ErrorCodes.FABRIC_MANAGER_MISSING;
            case PARTITION_UNKNOWN -> ErrorCodes.PARTITION_UNKNOWN;
            case BAD_OUTPUT, FAILED -> ErrorCodes.FABRIC_MANAGER_ERROR;
        };
        return new ActionException(code, e.getMessage(), e);
    }

    // ---- libvirt ----------------------------------------------------------------------------------------

    private void defineDomain(Job job, StepLog log, Map<String, String> facts) throws ActionException {
        DomainSpec spec = job.domain();
        if (spec == null) {
            throw new ActionException(ErrorCodes.INVALID_JOB, "DEFINE_DOMAIN without a domain spec");
        }
        if (job.vmId() != null && spec.vmId() != null && !job.vmId().equals(spec.vmId())) {
            throw new ActionException(ErrorCodes.INVALID_JOB, "job for VM " + job.vmId() + " carries the domain of "
                    + spec.vmId());
        }
        GuestMedia media = new GuestMedia(
                spec.bootImage() == null || spec.bootImage().isBlank() ? null : bootDiskFile(spec.vmId()),
                spec.guestInit() == null ? null : seedFile(spec.vmId()));
        StepLog.Timer render = log.start("render domain XML for " + spec.name(), "");
        DomainXmlBuilder.RenderedDomain rendered;
        try {
            rendered = xmlBuilder.render(spec, media);
            render.ok(null, rendered.layout().devices().size() + " host devices on "
                    + rendered.layout().controllers().size() + " PCI controllers");
        } catch (InvalidDomainSpecException e) {
            render.failed(null, e.getMessage());
            throw new ActionException(ErrorCodes.INVALID_DOMAIN_SPEC, "cannot render domain " + spec.name() + ": "
                    + e.getMessage(), e);
        }
        boolean hasGpus = rendered.layout().devices().stream().anyMatch(DomainXmlBuilder::isGpu);
        String ncclTopology = ncclWriter.render(spec, rendered.layout(), actions.cpu());
        makeMedia(spec, media, hasGpus ? ncclTopology : null, log, facts);
        Path xmlFile = domainXmlFile(spec.vmId());
        writeFile(xmlFile, rendered.xml());
        Optional<DomainStatus> before = find(spec.vmId(), log);
        String name = before.isPresent() ? "redefine domain " + spec.name() + " (already defined)"
                : "define domain " + spec.name();
        StepLog.Timer define = log.start(name, virsh("define " + xmlFile));
        DomainStatus defined;
        try {
            defined = actions.hypervisor().define(rendered.xml());
            define.ok(null, "Domain '" + defined.name() + "' defined from " + xmlFile);
        } catch (HypervisorException e) {
            define.failed(null, e.getMessage());
            throw new ActionException(ErrorCodes.LIBVIRT_ERROR, e.getMessage(), e);
        }
        Path topo = ncclTopologyFile(spec.vmId());
        StepLog.Timer nccl = log.start("write NCCL topology of " + spec.name(), "cat > " + topo);
        try {
            writeFile(topo, ncclTopology);
            nccl.ok(null, rendered.layout().guestBdfs().toString());
        } catch (ActionException e) {
            nccl.failed(null, e.getMessage());
            throw e;
        }
        facts.put("domainName", defined.name());
        facts.put("domainState", defined.state().virshName());
        facts.put("domainXml", xmlFile.toString());
        facts.put("ncclTopoFile", topo.toString());
        rendered.layout().guestBdfs().forEach((host, guest) -> facts.put("guestBdf." + host, guest));
    }

    /**
     * The VM's own disk (a copy-on-write overlay of its boot image, made once and kept across defines)
     * and its cloud-init seed (made again on every define from the spec, which may have changed).
     */
    private void makeMedia(DomainSpec spec, GuestMedia media, String ncclTopology, StepLog log,
                           Map<String, String> facts) throws ActionException {
        if (media.bootDisk() != null) {
            Path base = Path.of(spec.bootImage());
            Path disk = media.bootDisk();
            StepLog.Timer t = log.start("create the VM's disk on " + base.getFileName(), GuestImages.overlayCommand(base, disk));
            try {
                boolean created = actions.images().createOverlay(base, disk);
                t.ok(null, created ? "created " + disk + " on " + base
                        : disk + " exists: kept (it holds what the guest wrote)");
            } catch (GuestImageException e) {
                t.failed(e.exitCode(), e.getMessage());
                throw new ActionException(ErrorCodes.IMAGE_ERROR, "cannot create the disk of " + spec.name() + " on "
                        + base + ": " + e.getMessage(), e);
            }
            facts.put("bootDisk", disk.toString());
        }
        if (media.seed() != null) {
            Path seed = media.seed();
            String mac = xmlBuilder.hasManagementNic() ? CloudInitSeed.macOf(spec.vmId()) : null;
            CloudInitSeed.Files files = CloudInitSeed.render(spec.vmId(), spec.guestInit(), mac, ncclTopology);
            StepLog.Timer t = log.start("write the cloud-init seed of " + spec.name(), GuestImages.seedCommand(seed));
            try {
                actions.images().writeSeed(seed, files);
                t.ok(null, String.join(", ", files.byName().keySet()));
            } catch (GuestImageException e) {
                t.failed(e.exitCode(), e.getMessage());
                throw new ActionException(ErrorCodes.IMAGE_ERROR, "cannot write the cloud-init seed of " + spec.name()
                        + ": " + e.getMessage(), e);
            }
            facts.put("cloudInitSeed", seed.toString());
        }
    }

    private void startDomain(Job job, StepLog log, Map<String, String> facts) throws ActionException {
        UUID id = vmId(job);
        DomainStatus d = find(id, log).orElseThrow(() -> notDefined(id, log));
        if (d.state() == DomainState.SHUTTING_DOWN) {
            log.note("domain " + d.name() + " is shutting down", virsh("domstate " + d.name()), d.state().virshName(), false);
            throw new ActionException(ErrorCodes.DOMAIN_RUNNING, "domain " + d.name() + " is still shutting down");
        }
        if (d.state().isActive()) {
            log.note("domain " + d.name() + " already running", virsh("domstate " + d.name()), d.state().virshName(), true);
        } else {
            StepLog.Timer t = log.start("start domain " + d.name(), virsh("start " + d.name()));
            try {
                actions.hypervisor().start(id);
                t.ok(null, "Domain '" + d.name() + "' started");
            } catch (HypervisorException e) {
                t.failed(null, e.getMessage());
                throw new ActionException(ErrorCodes.LIBVIRT_ERROR, e.getMessage(), e);
            }
        }
        facts.put("domainState", domainState(id, log).virshName());
    }

    private void stopDomain(Job job, StepLog log, Map<String, String> facts) throws ActionException {
        UUID id = vmId(job);
        Optional<DomainStatus> found = find(id, log);
        if (found.isEmpty()) {
            log.note("domain " + id + " not defined", virsh("domstate " + id), "not defined", true);
            facts.put("domainState", DomainState.NOT_DEFINED.virshName());
            return;
        }
        DomainStatus d = found.get();
        if (!d.state().isActive()) {
            log.note("domain " + d.name() + " already stopped", virsh("domstate " + d.name()), d.state().virshName(), true);
            facts.put("domainState", d.state().virshName());
            return;
        }
        int timeout = job.timeoutSeconds() == null ? DEFAULT_STOP_TIMEOUT_SECONDS : Math.max(0, job.timeoutSeconds());
        boolean down = false;
        if (timeout > 0 && d.state() != DomainState.PAUSED) {
            StepLog.Timer t = log.start("shut down domain " + d.name(), virsh("shutdown " + d.name()));
            try {
                actions.hypervisor().shutdown(id);
                down = awaitStopped(id, Duration.ofSeconds(timeout), log);
                if (down) {
                    t.ok(null, "Domain '" + d.name() + "' is being shutdown; now " + domainState(id, log).virshName());
                } else {
                    t.failed(null, "still running after " + timeout + " s; destroying");
                }
            } catch (HypervisorException e) {
                t.failed(null, e.getMessage() + "; destroying");
            }
        }
        if (!down) {
            StepLog.Timer t = log.start("destroy domain " + d.name(), virsh("destroy " + d.name()));
            try {
                if (domainState(id, log).isActive()) {
                    actions.hypervisor().destroy(id);
                }
                t.ok(null, "Domain '" + d.name() + "' destroyed");
            } catch (HypervisorException e) {
                t.failed(null, e.getMessage());
                throw new ActionException(ErrorCodes.LIBVIRT_ERROR, e.getMessage(), e);
            }
        }
        DomainState after = domainState(id, log);
        facts.put("domainState", after.virshName());
        if (after.isActive()) {
            throw new ActionException(ErrorCodes.LIBVIRT_ERROR, "domain " + d.name() + " is still " + after.virshName());
        }
    }

    private void undefineDomain(Job job, StepLog log, Map<String, String> facts) throws ActionException {
        UUID id = vmId(job);
        Optional<DomainStatus> found = find(id, log);
        if (found.isEmpty()) {
            log.note("domain " + id + " not defined", virsh("domstate " + id), "not defined", true);
        } else {
            DomainStatus d = found.get();
            if (d.state().isActive()) {
                log.note("check domain " + d.name() + " is stopped", virsh("domstate " + d.name()),
                        d.state().virshName(), false);
                throw new ActionException(ErrorCodes.DOMAIN_RUNNING, "will not undefine domain " + d.name()
                        + " while it is " + d.state().virshName() + "; stop it first");
            }
            StepLog.Timer t = log.start("undefine domain " + d.name(), virsh("undefine --nvram " + d.name()));
            try {
                actions.hypervisor().undefine(id);
                t.ok(null, "Domain '" + d.name() + "' has been undefined");
            } catch (HypervisorException e) {
                t.failed(null, e.getMessage());
                throw new ActionException(ErrorCodes.LIBVIRT_ERROR, e.getMessage(), e);
            }
        }
        try {
            if (Files.exists(seedFile(id)) || Files.isDirectory(GuestImages.seedFiles(seedFile(id)))) {
                GuestImages.removeSeed(seedFile(id));
                log.note("remove the cloud-init seed", "rm -r " + seedFile(id) + "*", "", true);
            }
        } catch (IOException e) {
            log.note("remove the cloud-init seed", "rm -r " + seedFile(id) + "*", e.toString(), false);
        }
        for (Path f : List.of(domainXmlFile(id), ncclTopologyFile(id), bootDiskFile(id))) {
            try {
                if (Files.deleteIfExists(f)) {
                    log.note("remove " + f.getFileName(), "rm " + f, "", true);
                }
            } catch (IOException e) {
                log.note("remove " + f.getFileName(), "rm " + f, e.toString(), false);
                throw new ActionException(ErrorCodes.INTERNAL_ERROR, "cannot remove " + f + ": " + e.getMessage(), e);
            }
        }
        facts.put("domainState", DomainState.NOT_DEFINED.virshName());
    }

    private boolean awaitStopped(UUID id, Duration timeout, StepLog log) throws ActionException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (!domainState(id, log).isActive()) {
                return true;
            }
            if (System.nanoTime() >= deadline) {
                return false;
            }
            try {
                Thread.sleep(Math.max(1, actions.shutdownPoll().toMillis()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
    }

    private Optional<DomainStatus> find(UUID id, StepLog log) throws ActionException {
        try {
            return actions.hypervisor().find(id);
        } catch (HypervisorException e) {
            log.note("look up domain " + id, virsh("dominfo " + id), e.getMessage(), false);
            throw new ActionException(ErrorCodes.LIBVIRT_ERROR, e.getMessage(), e);
        }
    }

    private DomainState domainState(UUID id, StepLog log) throws ActionException {
        return find(id, log).map(DomainStatus::state).orElse(DomainState.NOT_DEFINED);
    }

    private List<DomainStatus> listDomains(StepLog log) throws ActionException {
        try {
            return actions.hypervisor().listDomains();
        } catch (HypervisorException e) {
            log.note("list domains", virsh("list --all"), e.getMessage(), false);
            throw new ActionException(ErrorCodes.LIBVIRT_ERROR, e.getMessage(), e);
        }
    }

    private ActionException notDefined(UUID id, StepLog log) {
        log.note("find domain " + id, virsh("domstate " + id), "not defined", false);
        return new ActionException(ErrorCodes.DOMAIN_NOT_DEFINED, "no domain is defined for VM " + id
                + "; run DEFINE_DOMAIN first");
    }

    /** How an operator would run the same libvirt call. */
    private String virsh(String args) {
        String uri = actions.hypervisor().uri();
        return LibvirtHypervisor.SYSTEM.equals(uri) ? "virsh " + args : "virsh -c " + uri + " " + args;
    }

    // ---- payload ----------------------------------------------------------------------------------------

    private static List<String> bdfs(Job job) throws ActionException {
        if (job.bdfs().isEmpty()) {
            throw new ActionException(ErrorCodes.INVALID_JOB, job.kind() + " without PCI addresses");
        }
        List<String> out = new ArrayList<>();
        for (String b : job.bdfs()) {
            out.add(Bdf.parse(b).orElseThrow(() -> new ActionException(ErrorCodes.INVALID_JOB, "not a PCI address: " + b)));
        }
        return out.stream().distinct().toList();
    }

    private static int partition(Job job) throws ActionException {
        if (job.partitionId() == null) {
            throw new ActionException(ErrorCodes.INVALID_JOB, job.kind() + " without a partition id");
        }
        return job.partitionId();
    }

    private static UUID vmId(Job job) throws ActionException {
        if (job.vmId() == null) {
            throw new ActionException(ErrorCodes.INVALID_JOB, job.kind() + " without a VM id");
        }
        return job.vmId();
    }

    private static void writeFile(Path file, String content) throws ActionException {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.writeString(tmp, content, StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new ActionException(ErrorCodes.INTERNAL_ERROR, "cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
