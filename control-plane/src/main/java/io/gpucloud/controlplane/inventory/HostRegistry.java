package io.gpucloud.controlplane.inventory;

import io.gpucloud.controlplane.tenancy.Tokens;
import io.gpucloud.controlplane.web.ApiException;
import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.RegisterRequest;
import io.gpucloud.protocol.RegisterResponse;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/**
 * Registration, topology reports and liveness of host workers: the write side of the inventory.
 */
@Service
public class HostRegistry {

    private static final Logger log = LoggerFactory.getLogger(HostRegistry.class);
    /** The reason a VM whose workflow waits on a silent host shows; cleared when the host is heard again. */
    public static final String VM_WAITING_FOR_HOST = "host unreachable; waiting for it to return";
    private static final int MAX_BOOT_IMAGES = 1000;
    private static final Pattern HOST_NAME = Pattern.compile("^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$");
    private static final Pattern BDF = Pattern.compile("^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]$");

    private final JdbcClient jdbc;
    private final TopologyReconciler reconciler;
    private final InventoryProperties properties;
    private final MeterRegistry meters;
    private final ApplicationEventPublisher events;

    public HostRegistry(JdbcClient jdbc, TopologyReconciler reconciler, InventoryProperties properties,
                        MeterRegistry meters, ApplicationEventPublisher events) {
        this.jdbc = jdbc;
        this.reconciler = reconciler;
        this.properties = properties;
        this.meters = meters;
        this.events = events;
    }

    /**
     * A host can take more VMs than before: it became {@code ready} (onboarded, undrained, back from
     * being unreachable), or a GPU of a ready host returned to service. Published in the transaction
     * that made the change.
     */
    public record CapacityAdded(UUID hostId) {
    }

    private void capacityAddedIfReady(UUID hostId, String state) {
        if ("ready".equals(state)) {
            events.publishEvent(new CapacityAdded(hostId));
        }
    }

    /**
     * Puts a device that placement avoids ({@code suspect} after a failed create, {@code quarantined}
     * after a failed teardown) back in service, once an operator has checked it. Idempotent for a
     * device already in service; a device the host no longer reports ({@code missing}) comes back only
     * with a topology report that finds it.
     */
    @Transactional
    public void returnToService(UUID hostId, String bdf, String reason) {
        var device = jdbc.sql("""
                SELECT d.health, h.state FROM pci_device d JOIN host h ON h.id = d.host_id
                 WHERE d.host_id = ? AND d.bdf = ? FOR UPDATE OF d
                """).params(hostId, bdf)
                .query((rs, n) -> new String[] {rs.getString(1), rs.getString(2)}).optional()
                .orElseThrow(() -> ApiException.notFound("Device", bdf));
        switch (device[0]) {
            case "ok" -> {
                return;
            }
            case "missing" -> throw ApiException.conflict("device-missing", "Device " + bdf
                    + " is missing from the host's last topology report; it returns when a report finds it.");
            default -> { }
        }
        String note = "returned to service (was " + device[0] + ")" + (reason == null || reason.isBlank() ? ""
                : ": " + reason);
        jdbc.sql("UPDATE pci_device SET health = 'ok', health_changed_at = now(), health_reason = ? "
                + "WHERE host_id = ? AND bdf = ?").params(note, hostId, bdf).update();
        log.info("Device {} of host {} {}", bdf, hostId, note);
        meters.counter("gpucloud.devices.returned.to.service", "was", device[0]).increment();
        capacityAddedIfReady(hostId, device[1]);
    }

    /**
     * Registers a host or, for a known host name, re-registers it: same id, fresh credential,
     * rows reconciled with the new topology. Safe to repeat.
     */
    @Transactional
    public RegisterResponse register(RegisterRequest request) {
        HostTopology topology = validate(request == null ? null : request.topology());
        String location = request.location() == null || request.location().isBlank() ? "default" : request.location();
        String credential = Tokens.generate("host");
        UUID hostId = jdbc.sql("""
                INSERT INTO host (id, name, location, platform, fabric_mode, credential_hash, worker_version,
                                  last_heartbeat_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, now())
                ON CONFLICT (name) DO UPDATE SET credential_hash = EXCLUDED.credential_hash,
                       worker_version = EXCLUDED.worker_version, last_heartbeat_at = now()
                RETURNING id
                """)
                .params(UUID.randomUUID(), topology.hostName(), location, topology.platform().name(),
                        topology.fabricMode().name(), Tokens.hash(credential), request.workerVersion())
                .query(UUID.class).single();
        try (MDC.MDCCloseable ignored = MDC.putCloseable("hostId", hostId.toString())) {
            reconciler.reconcile(hostId, topology);
            settleStateAfterReport(hostId, topology);
            meters.counter("gpucloud.worker.registrations").increment();
            log.info("Host {} registered: {} with {} GPUs, {} partitions, {} problems", topology.hostName(),
                    topology.platform(), topology.gpuCount(), topology.partitions().size(), topology.problems().size());
        }
        return new RegisterResponse(hostId, credential, (int) properties.heartbeatInterval().toSeconds(),
                reconciler.knownModuleIds(hostId));
    }

    /** A fresh discovery from an already registered worker. */
    @Transactional
    public RegisterResponse reportTopology(UUID hostId, HostTopology topology) {
        validate(topology);
        String registeredName = jdbc.sql("SELECT name FROM host WHERE id = ? FOR UPDATE").param(hostId)
                .query(String.class).optional().orElseThrow(() -> ApiException.notFound("Host", hostId));
        if (!registeredName.equals(topology.hostName())) {
            throw ApiException.conflict("host-name-mismatch", "This credential belongs to host '" + registeredName
                    + "' but the topology is of '" + topology.hostName() + "'.");
        }
        reconciler.reconcile(hostId, topology);
        settleStateAfterReport(hostId, topology);
        jdbc.sql("UPDATE host SET last_heartbeat_at = now() WHERE id = ?").param(hostId).update();
        return new RegisterResponse(hostId, null, (int) properties.heartbeatInterval().toSeconds(),
                reconciler.knownModuleIds(hostId));
    }

    /**
     * Records a heartbeat; a host that was unreachable returns to the state it had, and so do its VMs.
     * One statement either way, outside any transaction (heartbeats are the most frequent worker
     * request): the common case, a host that is not unreachable, only touches its row; a returning
     * host settles its VMs and its own state in one statement, so both change together or not at all.
     */
    public HeartbeatResult heartbeat(UUID hostId, String workerVersion, List<String> bootImages) {
        String[] images = bootImages(bootImages);
        // RETURNING's subquery reads the row as it was before this update: did the report change?
        Optional<Beat> live = jdbc.sql("""
                UPDATE host SET last_heartbeat_at = now(), worker_version = COALESCE(?, worker_version),
                       boot_images = COALESCE(CAST(? AS text[]), boot_images)
                 WHERE id = ? AND state <> 'unreachable'
                RETURNING state, topology_reported_at IS NULL AS needs_topology,
                          CAST(? AS text[]) IS NOT NULL
                          AND boot_images IS DISTINCT FROM (SELECT b.boot_images FROM host b WHERE b.id = host.id)
                          AS images_changed
                """)
                .params(workerVersion, images, hostId, images)
                .query((rs, n) -> new Beat(new HeartbeatResult(rs.getString("state"), rs.getBoolean("needs_topology")),
                        rs.getBoolean("images_changed")))
                .optional();
        if (live.isPresent()) {
            if (live.get().imagesChanged()) {
                // VMs waiting for an image this host may now hold try again
                capacityAddedIfReady(hostId, live.get().result().state());
            }
            return live.get().result();
        }
        // Unreachable (or unknown): its VMs settle and the host returns, in one statement
        HeartbeatResult returned = jdbc.sql("WITH settled AS (" + SETTLE_VMS_OF_RETURNING_HOST + ")" + """
                UPDATE host SET last_heartbeat_at = now(),
                       worker_version = COALESCE(?, worker_version),
                       boot_images = COALESCE(CAST(? AS text[]), boot_images),
                       state = CASE WHEN state = 'unreachable' THEN COALESCE(resume_state, 'ready') ELSE state END,
                       state_reason = CASE WHEN state = 'unreachable' THEN NULL ELSE state_reason END,
                       state_changed_at = CASE WHEN state = 'unreachable' THEN now() ELSE state_changed_at END,
                       resume_state = CASE WHEN state = 'unreachable' THEN NULL ELSE resume_state END
                 WHERE id = ?
                RETURNING state, topology_reported_at IS NULL AS needs_topology
                """)
                .params(hostId, VM_WAITING_FOR_HOST, hostId, workerVersion, images, hostId)
                .query((rs, n) -> new HeartbeatResult(rs.getString("state"), rs.getBoolean("needs_topology")))
                .optional().orElseThrow(() -> ApiException.notFound("Host", hostId));
        capacityAddedIfReady(hostId, returned.state());
        return returned;
    }

    public record HeartbeatResult(String state, boolean reportTopology) {
    }

    private record Beat(HeartbeatResult result, boolean imagesChanged) {
    }

    /**
     * While the host row still says unreachable: its VMs are "running" again (the worker's reconcile
     * report restores any that are not) and in-flight ones stop saying they wait for it. Parameters:
     * the host, {@link #VM_WAITING_FOR_HOST}, the host.
     */
    private static final String SETTLE_VMS_OF_RETURNING_HOST = """
            UPDATE vm SET state = CASE WHEN state = 'unknown' THEN 'running' ELSE state END,
                   state_reason = NULL, updated_at = now()
             WHERE id IN (SELECT vm_id FROM vms_placed_on(?)) AND (state = 'unknown' OR state_reason = ?)
               AND EXISTS (SELECT 1 FROM host WHERE id = ? AND state = 'unreachable')
            """;

    private void settleVmsOfReturningHost(UUID hostId) {
        jdbc.sql(SETTLE_VMS_OF_RETURNING_HOST).params(hostId, VM_WAITING_FOR_HOST, hostId).update();
    }

    /**
     * Moves hosts whose workers fell silent to {@code unreachable}, remembering where to return.
     * Placement skips unreachable hosts.
     */
    @Transactional
    public List<String> markSilentHostsUnreachable() {
        List<String> names = jdbc.sql("""
                UPDATE host SET resume_state = state, state = 'unreachable', state_changed_at = now(),
                       state_reason = 'no heartbeat since ' || to_char(last_heartbeat_at AT TIME ZONE 'UTC',
                                      'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                 WHERE state IN ('onboarding', 'ready', 'draining', 'maintenance')
                   AND last_heartbeat_at < now() - make_interval(secs => ?)
                RETURNING name
                """)
                .param(properties.heartbeatTimeout().toMillis() / 1000.0)
                .query(String.class).list();
        if (!names.isEmpty()) {
            // Their VMs may well still run: say "unknown", not "failed", until the worker is heard again.
            jdbc.sql("""
                    UPDATE vm SET state = 'unknown', state_reason = 'host unreachable since ' || now(), updated_at = now()
                     WHERE state = 'running' AND id IN (SELECT p.vm_id FROM host, vms_placed_on(host.id) p
                                                         WHERE host.name = ANY(?))
                    """).param(names.toArray(String[]::new)).update();
            // VMs mid-workflow keep their state and devices (the host may still act on them); say why they wait.
            jdbc.sql("""
                    UPDATE vm SET state_reason = ?, updated_at = now()
                     WHERE state IN ('provisioning', 'starting', 'stopping', 'rebooting', 'deleting')
                       AND id IN (SELECT p.vm_id FROM host, vms_placed_on(host.id) p WHERE host.name = ANY(?))
                    """).params(VM_WAITING_FOR_HOST, names.toArray(String[]::new)).update();
        }
        for (String name : names) {
            log.warn("Host {} is unreachable: no heartbeat for {}", name, properties.heartbeatTimeout());
            meters.counter("gpucloud.hosts.unreachable.transitions").increment();
        }
        return names;
    }

    /** The operator actions the admin API and the console offer, by name. */
    public static final java.util.Set<String> ADMIN_ACTIONS = java.util.Set.of("drain", "undrain", "maintenance");

    /**
     * An operator action by name ({@code drain}, {@code undrain} or {@code maintenance}), shared by
     * {@code POST /admin/api/v1/hosts/{id}/{action}} and the console's node page.
     */
    @Transactional
    public void applyAdminAction(UUID hostId, String action, String reason) {
        String target = switch (action) {
            case "drain" -> "draining";
            case "maintenance" -> "maintenance";
            case "undrain" -> "ready";
            default -> throw ApiException.badRequest("action", "Unknown host action '" + action + "'; one of "
                    + ADMIN_ACTIONS + ".");
        };
        setAdminState(hostId, target, reason);
    }

    /** Operator actions: drain (no new VMs, running ones stay), undrain, maintenance. */
    @Transactional
    public void setAdminState(UUID hostId, String target, String reason) {
        String current = jdbc.sql("SELECT state FROM host WHERE id = ? FOR UPDATE").param(hostId).query(String.class)
                .optional().orElseThrow(() -> ApiException.notFound("Host", hostId));
        boolean allowed = switch (target) {
            case "draining", "maintenance" -> List.of("ready", "draining", "maintenance").contains(current);
            case "ready" -> List.of("draining", "maintenance").contains(current);
            default -> false;
        };
        if (!allowed) {
            throw ApiException.conflict("invalid-host-state", "Host is " + current + "; cannot move it to " + target + ".");
        }
        if ("maintenance".equals(target)) {
            long vms = jdbc.sql("SELECT count(*) FROM vm WHERE id IN (SELECT vm_id FROM vms_placed_on(?)) "
                    + "AND state NOT IN ('deleted', 'failed')")
                    .param(hostId).query(Long.class).single();
            if (vms > 0) {
                throw ApiException.conflict("host-not-empty", vms + " VMs still live on this host; drain it and "
                        + "move or delete them before maintenance.");
            }
        }
        jdbc.sql("UPDATE host SET state = ?, state_reason = ?, state_changed_at = now() WHERE id = ?")
                .params(target, reason, hostId).update();
        capacityAddedIfReady(hostId, target);
    }

    private void settleStateAfterReport(UUID hostId, HostTopology topology) {
        if (!topology.passthroughCapable()) {
            jdbc.sql("""
                    UPDATE host SET state = 'onboarding', state_changed_at = now(),
                           state_reason = 'IOMMU is off: devices cannot be passed through; enable intel_iommu/amd_iommu and reboot'
                     WHERE id = ? AND state IN ('onboarding', 'ready', 'unreachable')
                    """).param(hostId).update();
            return;
        }
        settleVmsOfReturningHost(hostId);
        jdbc.sql("""
                UPDATE host SET state = CASE WHEN state = 'unreachable' THEN COALESCE(resume_state, 'ready')
                                             WHEN state = 'onboarding' THEN 'ready' ELSE state END,
                       resume_state = NULL, state_reason = NULL, state_changed_at = now()
                 WHERE id = ? AND state IN ('onboarding', 'unreachable')
                RETURNING state
                """).param(hostId).query(String.class).optional()
                .ifPresent(state -> capacityAddedIfReady(hostId, state));
    }

    /**
     * The reported boot images, sorted and without duplicates (so an unchanged report writes the same
     * array and announces nothing), or null when the worker did not report them.
     */
    private static String[] bootImages(List<String> reported) {
        if (reported == null) {
            return null;
        }
        if (reported.size() > MAX_BOOT_IMAGES) {
            throw ApiException.badRequest("bootImages", "At most " + MAX_BOOT_IMAGES + " boot images per host.");
        }
        java.util.TreeSet<String> sorted = new java.util.TreeSet<>();
        for (int i = 0; i < reported.size(); i++) {
            String path = reported.get(i);
            if (path == null || !path.startsWith("/") || path.length() > 4096 || path.contains("/../")
                    || path.endsWith("/..") || path.chars().anyMatch(Character::isISOControl)) {
                throw ApiException.badRequest("bootImages[" + i + "]",
                        "A boot image must be an absolute file path without '..' or control characters "
                                + "(at most 4,096 characters).");
            }
            sorted.add(path);
        }
        return sorted.toArray(String[]::new);
    }

    private static HostTopology validate(HostTopology t) {
        if (t == null) {
            throw ApiException.badRequest("topology", "The request must carry the host topology.");
        }
        if (t.hostName() == null || !HOST_NAME.matcher(t.hostName()).matches()) {
            throw ApiException.badRequest("topology.hostName",
                    "hostName must be a DNS label or dotted name of letters, digits, '-' and '.' (at most 63 characters).");
        }
        if (t.platform() == null || t.fabricMode() == null) {
            throw ApiException.badRequest("topology.platform", "platform and fabricMode are required.");
        }
        for (var d : t.pciDevices()) {
            if (d.bdf() == null || !BDF.matcher(d.bdf()).matches()) {
                throw ApiException.badRequest("topology.pciDevices.bdf",
                        "Device address '" + d.bdf() + "' is not a full PCI address like 0000:18:00.0.");
            }
            if (d.kind() == null) {
                throw ApiException.badRequest("topology.pciDevices.kind", "Device " + d.bdf() + " has no kind.");
            }
        }
        var cpuNodes = t.numaNodes().stream().map(n -> n.id()).collect(java.util.stream.Collectors.toSet());
        for (var c : t.cpus()) {
            if (!cpuNodes.contains(c.numaNode())) {
                throw ApiException.badRequest("topology.cpus.numaNode",
                        "CPU " + c.id() + " is on NUMA node " + c.numaNode() + ", which the topology does not list.");
            }
        }
        return t;
    }
}
