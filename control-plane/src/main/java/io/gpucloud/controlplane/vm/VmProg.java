package io.gpucloud.controlplane.vm;

import io.gpucloud.controlplane.gateway.JobQueue;
import io.gpucloud.controlplane.gateway.JobQueue.JobRecord;
import io.gpucloud.controlplane.inventory.HostRegistry;
import io.gpucloud.controlplane.placement.PlacementService;
import io.gpucloud.controlplane.workflow.Outcome;
import io.gpucloud.controlplane.workflow.Prog;
import io.gpucloud.controlplane.workflow.Strand;
import io.gpucloud.placement.NumaPolicy;
import io.gpucloud.placement.PlacementRequest;
import io.gpucloud.protocol.job.DomainSpec;
import io.gpucloud.protocol.job.Job;
import io.gpucloud.protocol.job.JobKind;
import io.gpucloud.protocol.job.JobResult;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * A VM's whole life, top to bottom, as labels (see DESIGN.md "Provisioning order"):
 *
 * <pre>
 * wait_for_capacity → provision_on_host → running
 *   (a VM is created pending with its strand at wait_for_capacity; strands saved by earlier versions
 *   may still begin at start, which sets pending and goes on to wait_for_capacity)
 *   provision_on_host: one SEQUENCE job, RESET_GPUS → ACTIVATE_PARTITION (if partitioned) → BIND_VFIO →
 *   DEFINE_DOMAIN → START_DOMAIN, run by the worker in order and stopped at the first failure
 * running ⇄ stop_domain / stopped / start_again / reboot
 * destroy: teardown_on_host → release → (exit; VMs waiting for that capacity try again now, see CapacityWaiters)
 *   teardown_on_host: one TEARDOWN job, STOP_DOMAIN (destroy after the timeout) → UNDEFINE_DOMAIN →
 *   DEACTIVATE_PARTITION (if partitioned) → REBIND_HOST_DRIVER → RESET_GPUS, every step run even after
 *   one fails
 * failure while provisioning: rollback → rollback_on_host (a TEARDOWN like destroy's, without the final
 *   reset: the next create resets the GPUs first) → rollback_release (VMs waiting for what it gave back
 *   try again now) → retry elsewhere (bounded) or failed
 * host restarted (signal "restore" from the worker's reconcile report, while running or stopped):
 *   restore_partition → restore_vfio → restore_domain → restore_start (only if it should run) → running/stopped
 * </pre>
 *
 * Host steps go to the worker as jobs, one per label and attempt; a label that waits for its job
 * naps until the result wakes it. The create steps need no decision in between, so they travel as
 * one sequence; the steps of a delete or a rollback travel as one teardown, which the worker runs to
 * the end even when a step fails, and a failed teardown quarantines the GPUs and carries on to the
 * release. Devices are released in the database only after the host confirmed it let go of them.
 */
@Component
public class VmProg implements Prog {

    private static final Logger log = LoggerFactory.getLogger(VmProg.class);
    public static final String NAME = "vm";
    private static final Duration JOB_WAIT = Duration.ofSeconds(30);
    /** Where a new VM's strand begins, and the reason its row is created with. */
    static final String FIRST_LABEL = "wait_for_capacity";
    static final String WAITING_FOR_CAPACITY = "waiting for capacity";

    private final JdbcClient jdbc;
    private final PlacementService placement;
    private final JobQueue jobs;
    private final DomainSpecBuilder domains;
    private final int maxAttempts;
    private final int stopTimeoutSeconds;
    private final String largeBarMode;
    private final BillingSpans billing;
    private final CapacityWaiters capacityWaiters;

    public VmProg(JdbcClient jdbc, PlacementService placement, JobQueue jobs, DomainSpecBuilder domains,
                  BillingSpans billing, CapacityWaiters capacityWaiters,
                  @Value("${gpucloud.provisioning.max-attempts:3}") int maxAttempts,
                  @Value("${gpucloud.provisioning.stop-timeout-seconds:60}") int stopTimeoutSeconds,
                  @Value("${gpucloud.provisioning.large-bar-mode:default}") String largeBarMode) {
        this.jdbc = jdbc;
        this.placement = placement;
        this.jobs = jobs;
        this.domains = domains;
        this.maxAttempts = maxAttempts;
        this.stopTimeoutSeconds = stopTimeoutSeconds;
        this.largeBarMode = largeBarMode;
        this.billing = billing;
        this.capacityWaiters = capacityWaiters;
    }

    @Override
    public String name() {
        return NAME;
    }

    /** A VM runs, stays stopped or waits for capacity for as long as it takes. */
    @Override
    public Set<String> restingLabels() {
        return Set.of("running", "stopped", "wait_for_capacity");
    }

    @Override
    public Outcome run(String label, Strand s) {
        return switch (label) {
            case "start" -> start(s);
            case "wait_for_capacity" -> waitForCapacity(s);
            case "provision_on_host" -> hostStep(s, JobKind.SEQUENCE, "running");
            case "running" -> running(s);
            case "stop_domain" -> hostStep(s, JobKind.STOP_DOMAIN, "now_stopped");
            case "now_stopped" -> nowStopped(s);
            case "stopped" -> stopped(s);
            case "start_again" -> hostStep(s, JobKind.START_DOMAIN, "running");
            case "reboot_stop" -> hostStep(s, JobKind.STOP_DOMAIN, "start_again");
            case "teardown_on_host" -> hostStep(s, JobKind.TEARDOWN, "release");
            case "release" -> release(s);
            case "rollback" -> rollback(s);
            case "rollback_on_host" -> hostStep(s, JobKind.TEARDOWN, "rollback_release");
            case "rollback_release" -> rollbackRelease(s);
            case "restore_partition" -> partitionId(s) == null ? Outcome.hop("restore_vfio")
                    : hostStep(s, JobKind.ACTIVATE_PARTITION, "restore_vfio");
            case "restore_vfio" -> hostStep(s, JobKind.BIND_VFIO, "restore_domain");
            case "restore_domain" -> hostStep(s, JobKind.DEFINE_DOMAIN, "restore_start");
            case "restore_start" -> "stopped".equals(s.string("restoreTo")) ? Outcome.hop("now_stopped")
                    : hostStep(s, JobKind.START_DOMAIN, "running");
            case "now_running" -> nowRunning(s);
            default -> perStepLabel(label, s);
        };
    }

    /**
     * A label of an earlier version: the job it sent on its own, the label after it, and whether it was
     * a teardown step (which carries on when it fails).
     */
    private record PerStep(JobKind kind, String next, boolean teardown) {
    }

    // Labels of earlier versions, where a strand saved by one may still stand: each host step was a label
    // and a job of its own (create until the SEQUENCE job, delete and rollback until the TEARDOWN job).
    private static final Map<String, PerStep> PER_STEP_LABELS = new java.util.HashMap<>();

    static {
        chain(List.of("reset_gpus", "activate_partition", "bind_vfio", "define_domain", "start_domain"),
                List.of(JobKind.RESET_GPUS, JobKind.ACTIVATE_PARTITION, JobKind.BIND_VFIO, JobKind.DEFINE_DOMAIN,
                        JobKind.START_DOMAIN), "running", false);
        chain(List.of("shutdown_for_delete", "undefine", "deactivate", "rebind_host_driver", "reset_after_use"),
                List.of(JobKind.STOP_DOMAIN, JobKind.UNDEFINE_DOMAIN, JobKind.DEACTIVATE_PARTITION,
                        JobKind.REBIND_HOST_DRIVER, JobKind.RESET_GPUS), "release", true);
        chain(List.of("rollback_stop", "rollback_undefine", "rollback_deactivate", "rollback_rebind"),
                List.of(JobKind.STOP_DOMAIN, JobKind.UNDEFINE_DOMAIN, JobKind.DEACTIVATE_PARTITION,
                        JobKind.REBIND_HOST_DRIVER), "rollback_release", true);
    }

    /** Labels that each sent one of {@code kinds}, in order, and then went on to {@code then}. */
    private static void chain(List<String> labels, List<JobKind> kinds, String then, boolean teardown) {
        for (int i = 0; i < labels.size(); i++) {
            PER_STEP_LABELS.put(labels.get(i),
                    new PerStep(kinds.get(i), i + 1 < labels.size() ? labels.get(i + 1) : then, teardown));
        }
    }

    private Outcome perStepLabel(String label, Strand s) {
        PerStep step = PER_STEP_LABELS.get(label);
        if (step == null) {
            throw new IllegalStateException("vm prog has no label " + label);
        }
        boolean partitionStep = step.kind() == JobKind.ACTIVATE_PARTITION || step.kind() == JobKind.DEACTIVATE_PARTITION;
        return partitionStep && partitionId(s) == null ? Outcome.hop(step.next()) : hostStep(s, step.kind(), step.next());
    }

    // ---- create ----

    private Outcome start(Strand s) {
        setState(s, "pending", WAITING_FOR_CAPACITY);
        return Outcome.hop("wait_for_capacity");
    }

    private Outcome waitForCapacity(Strand s) {
        if (s.signalled("destroy")) {
            s.take("destroy");
            setState(s, "deleted", "deleted before it was placed");
            jdbc.sql("UPDATE vm SET deleted_at = now() WHERE id = ?").param(vmId(s)).update();
            return Outcome.exit("deleted");
        }
        var vm = jdbc.sql("""
                SELECT gpu_model, gpu_count, vcpus, memory_mib, location, EXTRACT(EPOCH FROM expected_end_at - now()),
                       boot_disk
                  FROM vm WHERE id = ?
                """).param(vmId(s))
                .query((rs, n) -> new PlacementRequest(vmId(s), rs.getString(1), rs.getInt(2), rs.getInt(3),
                        rs.getLong(4), rs.getString(5), Set.of(), NumaPolicy.PREFERRED, false,
                        rs.getObject(6) == null ? null : Duration.ofSeconds(Math.max(60, rs.getLong(6))),
                        rs.getString(7)))
                .single();
        var outcome = placement.place(vm);
        if (outcome.placement().isEmpty()) {
            int waits = s.integer("capacityWaits", 0) + 1;
            s.put("capacityWaits", waits);
            setState(s, "pending", "no capacity: " + outcome.explanation());
            return Outcome.nap(Duration.ofSeconds(Math.min(60, 1L << Math.min(waits, 6))));
        }
        int attempt = s.integer("attempt", 0) + 1;
        s.put("attempt", attempt);
        s.put("hostId", outcome.placement().get().hostId().toString());
        jdbc.sql("UPDATE vm SET provision_attempts = ? WHERE id = ?").params(attempt, vmId(s)).update();
        // the private address, in the subnet of the host's location (V9: allocate_vm_address)
        jdbc.sql("SELECT host(allocate_vm_address(v.id, h.location)) FROM vm v JOIN host h ON h.id = v.host_id WHERE v.id = ?")
                .param(vmId(s)).query(String.class).optional();
        setState(s, "provisioning", null);
        return Outcome.hop("provision_on_host");
    }

    /**
     * The VM runs: do at once what the {@code running} label would do on its first run (act on a
     * signal raised meanwhile, such as a delete while it was provisioning) and otherwise wait there,
     * instead of running that label only to nap.
     */
    private Outcome nowRunning(Strand s) {
        setState(s, "running", null);
        Outcome next = running(s);
        return next instanceof Outcome.Nap nap ? Outcome.napAt("running", nap.duration()) : next;
    }

    // ---- running, stop, start, reboot ----

    private Outcome running(Strand s) {
        if (s.signalled("destroy")) {
            return beginCycle(s, "destroy", "deleting", "teardown_on_host");
        }
        if (s.signalled("restore")) {
            s.take("restore");
            return restore(s, "running");
        }
        if (s.signalled("stop")) {
            return beginCycle(s, "stop", "stopping", "stop_domain");
        }
        if (s.signalled("reboot")) {
            return beginCycle(s, "reboot", "rebooting", "reboot_stop");
        }
        s.take("start");
        return Outcome.nap(Duration.ofHours(1));
    }

    /** Takes the signal and starts a new cycle of host steps (fresh job keys) at {@code label}. */
    private Outcome beginCycle(Strand s, String signal, String state, String label) {
        s.take(signal);
        nextCycle(s);
        setState(s, state, null);
        return Outcome.hop(label);
    }

    private Outcome nowStopped(Strand s) {
        setState(s, "stopped", null);
        return Outcome.hop("stopped");
    }

    private Outcome stopped(Strand s) {
        if (s.signalled("destroy")) {
            return beginCycle(s, "destroy", "deleting", "teardown_on_host");
        }
        if (s.signalled("restore")) {
            s.take("restore");
            return restore(s, "stopped");
        }
        if (s.signalled("start")) {
            s.take("start");
            if (Boolean.TRUE.equals(s.stack().get("restorePending"))) {
                return restore(s, "running"); // the last restore failed: starting means trying it again
            }
            nextCycle(s);
            setState(s, "starting", null);
            return Outcome.hop("start_again");
        }
        s.take("stop");
        s.take("reboot");
        return Outcome.nap(Duration.ofHours(1));
    }

    // ---- host restarted ----

    /**
     * Puts back on the host what a reboot took away: the fabric partition, the vfio-pci bindings and
     * the domain, started again if the VM should run. Every step is idempotent on the host ("already
     * active", "already running"), so the whole sequence runs rather than guessing which parts are gone.
     */
    private Outcome restore(Strand s, String restoreTo) {
        nextCycle(s);
        s.put("restoreTo", restoreTo);
        s.put("restorePending", null);
        setState(s, restoreTo.equals("running") ? "starting" : "stopped", "restoring after host restart");
        return Outcome.hop("restore_partition");
    }

    // ---- delete ----

    private Outcome release(Strand s) {
        placement.release(vmId(s));
        setState(s, "deleted", null);
        jdbc.sql("UPDATE vm SET deleted_at = now() WHERE id = ?").param(vmId(s)).update();
        capacityWaiters.deleted(s.uuid("hostId"), vmId(s));
        return Outcome.exit("deleted");
    }

    // ---- failure while provisioning ----

    private Outcome rollback(Strand s) {
        String reason = s.string("failure");
        markSuspect(s);
        setState(s, "provisioning", "rolling back: " + reason);
        nextCycle(s);
        return Outcome.hop("rollback_on_host");
    }

    private Outcome rollbackRelease(Strand s) {
        placement.release(vmId(s));
        capacityWaiters.rolledBack(s.uuid("hostId"), vmId(s));
        s.put("hostId", null);
        int attempt = s.integer("attempt", 0);
        String reason = s.string("failure");
        if (s.signalled("destroy")) {
            s.take("destroy");
            setState(s, "deleted", "deleted while provisioning failed: " + reason);
            jdbc.sql("UPDATE vm SET deleted_at = now() WHERE id = ?").param(vmId(s)).update();
            return Outcome.exit("deleted");
        }
        if (attempt >= maxAttempts) {
            setState(s, "failed", "provisioning failed " + attempt + " times; last: " + reason);
            return Outcome.exit("failed");
        }
        setState(s, "pending", "retrying after: " + reason);
        return Outcome.hop("wait_for_capacity");
    }

    /**
     * A host step: send the job once per step and attempt, nap until its result arrives, then hop
     * on. A failed step while creating rolls back; a failed step while deleting or rolling back
     * quarantines the GPUs (they must not go to the next tenant) and carries on, so nothing leaks.
     */
    private Outcome hostStep(Strand s, JobKind kind, String next) {
        String key = "c" + s.integer("cycle", 0) + "a" + s.integer("attempt", 0) + ":" + s.label();
        JobRecord job = jobs.find(s.id(), key).orElse(null);
        if (job == null) {
            UUID host = s.uuid("hostId");
            jobs.enqueueOnce(s.id(), key, host, jobFor(s, kind));
            return Outcome.nap(JOB_WAIT);
        }
        if (job.succeeded()) {
            return next.equals("running") ? nowRunning(s) : Outcome.hop(next);
        }
        if (!job.failed()) {
            hostReachability(s);
            return Outcome.nap(JOB_WAIT);
        }
        JobResult r = job.result();
        String label = s.label();
        // a sequence failed in one of its sub-jobs: name that one, as if it had been a job of its own
        String failedKind = r == null ? null : r.facts().get(JobResult.FAILED_KIND);
        String step = failedKind == null ? label : label + "/" + failedKind.toLowerCase(java.util.Locale.ROOT);
        String reason = (failedKind == null ? kind.name() : failedKind) + " failed"
                + (r == null ? "" : ": " + r.error() + " [" + r.errorCode() + "]");
        log.warn("VM {} step {} failed: {}", vmId(s), step, reason);
        PerStep perStep = PER_STEP_LABELS.get(label);
        if (kind == JobKind.TEARDOWN || (perStep != null && perStep.teardown())) {
            quarantine(s, reason);
            return Outcome.hop(next);
        }
        if (label.startsWith("restore_")) {
            s.put("restorePending", true);
            setState(s, "stopped", "restoring after host restart failed: " + reason + "; start the VM to try again");
            return Outcome.hop("stopped");
        }
        if (label.equals("start_again")) {
            setState(s, "stopped", reason);
            return Outcome.hop("stopped");
        }
        if (label.equals("stop_domain") || label.equals("reboot_stop")) {
            setState(s, "running", reason);
            return Outcome.hop("running");
        }
        s.put("failure", reason);
        s.put("failedStep", step);
        s.put("failedErrorCode", r == null ? null : r.errorCode());
        return Outcome.hop("rollback");
    }

    private Job jobFor(Strand s, JobKind kind) {
        UUID vm = vmId(s);
        UUID id = UUID.randomUUID();
        return switch (kind) {
            case RESET_GPUS, REBIND_HOST_DRIVER -> new Job(id, kind, vm, 1, gpuBdfs(vm), null,
                    kind == JobKind.REBIND_HOST_DRIVER ? "nvidia" : null, null, null);
            case BIND_VFIO -> new Job(id, kind, vm, 1, deviceBdfs(vm), null, null, null, null);
            case ACTIVATE_PARTITION, DEACTIVATE_PARTITION -> new Job(id, kind, vm, 1, List.of(), partitionId(s),
                    null, null, null);
            case DEFINE_DOMAIN -> new Job(id, kind, vm, 1, List.of(), null, null, null,
                    domains.build(vm, largeBarMode));
            case STOP_DOMAIN -> new Job(id, kind, vm, 1, List.of(), null, null, stopTimeoutSeconds, null);
            case START_DOMAIN, UNDEFINE_DOMAIN -> new Job(id, kind, vm, 1, List.of(), null, null, null, null);
            case SEQUENCE -> provisionSequence(s, id);
            case TEARDOWN -> teardown(s, id);
            case SET_VIRTUALIZATION_MODE -> throw new IllegalArgumentException("a VM never switches a host's mode");
        };
    }

    /**
     * The create steps as one job, in DESIGN.md's order; the device lists come from the domain spec,
     * which reads every PCI function the VM holds anyway.
     */
    private Job provisionSequence(Strand s, UUID id) {
        UUID vm = vmId(s);
        DomainSpec domain = domains.build(vm, largeBarMode);
        List<String> devices = domain.devices().stream().map(DomainSpec.HostDevice::bdf).toList();
        List<String> gpus = domain.devices().stream().filter(d -> "gpu".equals(d.kind()))
                .map(DomainSpec.HostDevice::bdf).toList();
        Integer partition = partitionId(s);
        List<Job> steps = new java.util.ArrayList<>();
        steps.add(new Job(UUID.randomUUID(), JobKind.RESET_GPUS, vm, 1, gpus, null, null, null, null));
        if (partition != null) {
            steps.add(new Job(UUID.randomUUID(), JobKind.ACTIVATE_PARTITION, vm, 1, List.of(), partition, null, null,
                    null));
        }
        steps.add(new Job(UUID.randomUUID(), JobKind.BIND_VFIO, vm, 1, devices, null, null, null, null));
        steps.add(new Job(UUID.randomUUID(), JobKind.DEFINE_DOMAIN, vm, 1, List.of(), null, null, null, domain));
        steps.add(new Job(UUID.randomUUID(), JobKind.START_DOMAIN, vm, 1, List.of(), null, null, null, null));
        return Job.sequence(id, vm, 1, steps);
    }

    /**
     * The delete steps as one job that runs them all, in DESIGN.md's order. A rollback leaves out the
     * final reset: the create that follows resets the GPUs first.
     */
    private Job teardown(Strand s, UUID id) {
        UUID vm = vmId(s);
        List<String> gpus = gpuBdfs(vm);
        Integer partition = partitionId(s);
        List<Job> steps = new java.util.ArrayList<>();
        steps.add(new Job(UUID.randomUUID(), JobKind.STOP_DOMAIN, vm, 1, List.of(), null, null, stopTimeoutSeconds,
                null));
        steps.add(new Job(UUID.randomUUID(), JobKind.UNDEFINE_DOMAIN, vm, 1, List.of(), null, null, null, null));
        if (partition != null) {
            steps.add(new Job(UUID.randomUUID(), JobKind.DEACTIVATE_PARTITION, vm, 1, List.of(), partition, null, null,
                    null));
        }
        steps.add(new Job(UUID.randomUUID(), JobKind.REBIND_HOST_DRIVER, vm, 1, gpus, null, "nvidia", null, null));
        if (!s.label().startsWith("rollback")) {
            steps.add(new Job(UUID.randomUUID(), JobKind.RESET_GPUS, vm, 1, gpus, null, null, null, null));
        }
        return Job.teardown(id, vm, 1, steps);
    }

    private void hostReachability(Strand s) {
        UUID host = s.uuid("hostId");
        String state = jdbc.sql("SELECT state FROM host WHERE id = ?").param(host).query(String.class).single();
        if ("unreachable".equals(state)) {
            jdbc.sql("UPDATE vm SET state_reason = ?, updated_at = now() WHERE id = ?")
                    .params(HostRegistry.VM_WAITING_FOR_HOST, vmId(s)).update();
        }
    }

    private void markSuspect(Strand s) {
        String code = s.string("failedErrorCode");
        if (code == null || !(code.contains("busy") || code.contains("reset") || code.contains("partition"))) {
            return;
        }
        jdbc.sql("""
                UPDATE pci_device SET health = 'suspect', health_changed_at = now(), health_reason = ?
                 WHERE vm_id = ? AND kind = 'gpu' AND health = 'ok'
                """).params("VM " + vmId(s) + " failed in " + s.string("failedStep") + ": " + s.string("failure"),
                vmId(s)).update();
    }

    private void quarantine(Strand s, String reason) {
        jdbc.sql("UPDATE pci_device SET health = 'quarantined', health_changed_at = now(), health_reason = ? WHERE "
                + HELD_BY + " AND kind = 'gpu'").params("teardown of VM " + vmId(s) + " failed: " + reason, vmId(s), vmId(s)).update();
    }

    // What a VM holds is found through its host's rows: vm_id is not indexed, so that claims and releases
    // rewrite device and partition rows in place (V17).
    private static final String HELD_BY = "host_id = (SELECT host_id FROM vm WHERE id = ?) AND vm_id = ?";

    private Integer partitionId(Strand s) {
        return jdbc.sql("SELECT partition_id FROM gpu_partition WHERE " + HELD_BY).params(vmId(s), vmId(s))
                .query(Integer.class).optional().orElse(null);
    }

    private List<String> gpuBdfs(UUID vm) {
        return jdbc.sql("SELECT bdf FROM pci_device WHERE " + HELD_BY + " AND kind = 'gpu' ORDER BY bdf")
                .params(vm, vm).query(String.class).list();
    }

    private List<String> deviceBdfs(UUID vm) {
        return jdbc.sql("SELECT bdf FROM pci_device WHERE " + HELD_BY + " ORDER BY bdf").params(vm, vm)
                .query(String.class).list();
    }

    private static void nextCycle(Strand s) {
        s.put("cycle", s.integer("cycle", 0) + 1);
    }

    private static UUID vmId(Strand s) {
        return s.uuid("vmId");
    }

    private void setState(Strand s, String state, String reason) {
        jdbc.sql("UPDATE vm SET state = ?, state_reason = ?, updated_at = now() WHERE id = ?")
                .params(state, reason, vmId(s)).update();
        billing.onState(vmId(s), state); // same transaction as the state: see BillingSpans for the rule
    }
}
