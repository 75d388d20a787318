package io.gpucloud.controlplane.virtualization;

import io.gpucloud.controlplane.tenancy.AuditLog;
import io.gpucloud.controlplane.tenancy.Principal;
import io.gpucloud.controlplane.web.ApiException;
import io.gpucloud.controlplane.workflow.StrandStore;
import io.gpucloud.worker.catalog.VirtualizationCatalog;
import io.gpucloud.worker.catalog.VirtualizationCatalog.Mode;
import io.gpucloud.worker.catalog.VirtualizationCatalog.Param;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.springframework.http.HttpStatus;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.json.JsonMapper;

/**
 * A host's GPU virtualization mode (DESIGN.md §1.4): the catalog of modes that fit a host, and switching
 * it. A switch is validated against {@code catalog/virtualization-modes.json} (mode known, fits the host's
 * GPUs, parameters in range, MIG profiles pack), refused while the host holds VMs or is already switching,
 * and then runs as a {@link VirtualizationProg} strand: status {@code switching}, one
 * SET_VIRTUALIZATION_MODE job for the host worker, then {@code ready} with the new mode and parameters, or
 * {@code switch_failed} with the worker's error text and the old mode kept. Placement only uses hosts in
 * passthrough mode whose status is ready.
 */
@Service
public class VirtualizationModes {

    public static final String METRIC = "gpucloud.virtualization.switches";

    private final JdbcClient jdbc;
    private final JsonMapper json;
    private final StrandStore strands;
    private final AuditLog audit;
    private final MeterRegistry meters;
    private final VirtualizationCatalog catalog = VirtualizationCatalog.builtin();

    public VirtualizationModes(JdbcClient jdbc, JsonMapper json, StrandStore strands, AuditLog audit,
                               MeterRegistry meters) {
        this.jdbc = jdbc;
        this.json = json;
        this.strands = strands;
        this.audit = audit;
        this.meters = meters;
    }

    /**
     * @param applicable whether the mode fits the host asked about (always true without a host)
     * @param why        why it does not fit, else null
     * @param current    whether the host is in this mode now
     */
    public record ModeView(String id, String vendor, String label, String description, boolean applicable,
                           String why, boolean current, List<Param> params) {
    }

    /** A MIG profile as a dialog offers it: id, name on this GPU model, slices, how many fit, starts. */
    public record MigProfileView(int id, String name, int computeSlices, int memorySlices, int max,
                                 List<Integer> starts) {
    }

    public record Catalog(UUID hostId, String gpuModel, String gpuVendor, List<ModeView> modes,
                          List<MigProfileView> migProfiles) {
    }

    /**
     * @param requestedMode   the mode of the switch in flight, or of the last one if it failed; null otherwise
     * @param requestedParams its parameters
     */
    public record VirtualizationView(UUID hostId, String mode, String status, String reason,
                                     Map<String, Object> params, String requestedMode,
                                     Map<String, Object> requestedParams, Instant changedAt) {
    }

    private record HostRow(UUID id, String name, String gpuModel, String vendor, String mode, String status) {
    }

    /** Every mode, with whether it fits {@code hostId}'s GPUs (all fit when hostId is null) and its parameters. */
    @Transactional(readOnly = true)
    public Catalog catalog(UUID hostId) {
        HostRow host = hostId == null ? null : host(hostId, false);
        List<ModeView> modes = new ArrayList<>();
        for (Mode m : catalog.modes()) {
            String why = host == null ? null : whyNot(m, host);
            modes.add(new ModeView(m.id(), m.vendor(), m.label(), m.description(), why == null, why,
                    host != null && host.mode().equals(m.id()), m.params()));
        }
        List<MigProfileView> mig = new ArrayList<>();
        Optional<VirtualizationCatalog.MigGpu> migGpu = host == null ? Optional.empty() : catalog.migGpu(host.gpuModel());
        for (VirtualizationCatalog.MigProfile p : catalog.migTable().profiles()) {
            if (host == null || migGpu.isPresent()) {
                mig.add(new MigProfileView(p.id(), migGpu.map(g -> g.profileName(p.id())).orElse(null),
                        p.computeSlices(), p.memorySlices(), p.max(), p.starts()));
            }
        }
        return new Catalog(hostId, host == null ? null : host.gpuModel(), host == null ? null : host.vendor(), modes, mig);
    }

    @Transactional(readOnly = true)
    public VirtualizationView view(UUID hostId) {
        return jdbc.sql("""
                SELECT id, virtualization_mode, virtualization_status, virtualization_reason,
                       virtualization_params::text AS params, virtualization_requested_mode,
                       virtualization_requested_params::text AS requested_params, virtualization_changed_at
                  FROM host WHERE id = ?
                """).param(hostId)
                .query((rs, n) -> new VirtualizationView(rs.getObject("id", UUID.class),
                        rs.getString("virtualization_mode"), rs.getString("virtualization_status"),
                        rs.getString("virtualization_reason"), map(rs.getString("params")),
                        rs.getString("virtualization_requested_mode"),
                        rs.getString("requested_params") == null ? null : map(rs.getString("requested_params")),
                        rs.getTimestamp("virtualization_changed_at") == null ? null
                                : rs.getTimestamp("virtualization_changed_at").toInstant()))
                .optional().orElseThrow(() -> ApiException.notFound("Host", hostId));
    }

    /**
     * Starts switching the host to {@code mode}. Refuses with 422 (field {@code mode} or
     * {@code params.<name>}) when the mode is unknown, does not fit the host's GPUs or a parameter is
     * wrong; with 409 when the host holds VMs ({@code vmCount}) or is switching already.
     */
    @Transactional
    public VirtualizationView requestSwitch(UUID hostId, String mode, Map<String, Object> params, Principal actor) {
        HostRow host = host(hostId, true);
        if (mode == null || mode.isBlank()) {
            throw rejected(mode, "mode", "Name the mode to switch to; one of " + catalog.modeIds() + ".");
        }
        Mode m = catalog.mode(mode).orElseThrow(() -> rejected(mode, "mode", "Unknown virtualization mode '" + mode
                + "'; one of " + catalog.modeIds() + "."));
        String why = whyNot(m, host);
        if (why != null) {
            throw rejected(mode, "mode", "Mode " + mode + " does not apply to host " + host.name() + ": " + why + ".");
        }
        Map<String, Object> normalized;
        try {
            normalized = catalog.validate(m, params, host.gpuModel());
        } catch (VirtualizationCatalog.InvalidParameter e) {
            throw rejected(mode, "params." + e.field(), e.getMessage());
        }
        if ("switching".equals(host.status())) {
            count(mode, "rejected");
            throw ApiException.conflict("virtualization-switching", "Host " + host.name()
                    + " is already switching its virtualization mode; wait until it is ready or switch_failed.");
        }
        long vms = jdbc.sql("""
                SELECT count(*) FROM vm
                 WHERE id IN (SELECT vm_id FROM vms_placed_on(?)) AND deleted_at IS NULL AND state <> 'deleted'
                """)
                .param(hostId).query(Long.class).single();
        if (vms > 0) {
            count(mode, "rejected");
            throw new ApiException(HttpStatus.CONFLICT, "host-has-vms", "Conflict", "Host " + host.name() + " holds "
                    + vms + " VM" + (vms == 1 ? "" : "s") + "; delete or move them before switching its GPU "
                    + "virtualization mode.", Map.of("vmCount", vms));
        }
        List<String> gpus = jdbc.sql("""
                SELECT bdf FROM pci_device WHERE host_id = ? AND kind = 'gpu' AND health <> 'missing' ORDER BY bdf
                """).param(hostId).query(String.class).list();
        jdbc.sql("""
                UPDATE host SET virtualization_status = 'switching', virtualization_reason = NULL,
                       virtualization_requested_mode = ?, virtualization_requested_params = CAST(? AS jsonb),
                       virtualization_changed_at = now()
                 WHERE id = ?
                """).params(mode, json.writeValueAsString(normalized), hostId).update();
        Map<String, Object> stack = new LinkedHashMap<>();
        stack.put("hostId", hostId.toString());
        stack.put("mode", mode);
        stack.put("params", normalized);
        stack.put("fromMode", host.mode());
        stack.put("gpuBdfs", gpus);
        if (actor != null) {
            stack.put("actorKind", actor.kind().name());
            stack.put("actorId", actor.subjectId() == null ? null : actor.subjectId().toString());
            stack.put("actorName", actor.name());
        }
        UUID strand = strands.create(VirtualizationProg.NAME, "start", stack);
        Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("from", host.mode());
        detail.put("to", mode);
        detail.put("params", normalized);
        detail.put("strandId", strand.toString());
        audit.record(new AuditLog.Event(actor, "host.virtualization-switch-started", "host", hostId.toString(), null,
                "succeeded", detail));
        return view(hostId);
    }

    /** The worker's answer: {@code ready} in the new mode, or {@code switch_failed} in the old one. */
    void finish(UUID hostId, String mode, Map<String, Object> params, boolean success, String reason, Principal actor) {
        if (success) {
            jdbc.sql("""
                    UPDATE host SET virtualization_mode = ?, virtualization_params = CAST(? AS jsonb),
                           virtualization_status = 'ready', virtualization_reason = NULL,
                           virtualization_requested_mode = NULL, virtualization_requested_params = NULL,
                           virtualization_changed_at = now()
                     WHERE id = ?
                    """).params(mode, json.writeValueAsString(params), hostId).update();
        } else {
            jdbc.sql("""
                    UPDATE host SET virtualization_status = 'switch_failed', virtualization_reason = ?,
                           virtualization_changed_at = now()
                     WHERE id = ?
                    """).params(reason, hostId).update();
        }
        count(mode, success ? "succeeded" : "failed");
        Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("to", mode);
        detail.put("params", params);
        if (reason != null) {
            detail.put("reason", reason);
        }
        audit.record(new AuditLog.Event(actor, "host.virtualization-switch-" + (success ? "completed" : "failed"),
                "host", hostId.toString(), null, success ? "succeeded" : "failed", detail));
    }

    private ApiException rejected(String mode, String field, String detail) {
        count(mode == null || catalog.mode(mode).isEmpty() ? "unknown" : mode, "rejected");
        return new ApiException(HttpStatus.UNPROCESSABLE_ENTITY, "invalid-virtualization-mode",
                "Invalid virtualization mode request", detail, Map.of("field", field));
    }

    private void count(String mode, String result) {
        meters.counter(METRIC, "mode", mode == null ? "unknown" : mode, "result", result).increment();
    }

    /** Why the mode does not fit the host, or null when it does. */
    private String whyNot(Mode m, HostRow host) {
        if (host.vendor() == null) {
            return host.gpuModel() == null ? "the host has no GPUs" : "its GPUs' vendor is not in the mode catalog";
        }
        if (!m.appliesTo().vendors().contains(host.vendor())) {
            return "its GPUs are " + host.vendor() + " " + host.gpuModel() + "; " + m.id() + " needs "
                    + String.join(" or ", m.appliesTo().vendors()) + " GPUs";
        }
        if (!VirtualizationCatalog.applies(m, host.vendor(), host.gpuModel())) {
            return host.gpuModel() + " GPUs do not support " + m.label() + " (supported: " + m.appliesTo().gpuModels() + ")";
        }
        return null;
    }

    private HostRow host(UUID hostId, boolean lock) {
        HostRow row = jdbc.sql("""
                SELECT h.id, h.name, h.gpu_model, h.virtualization_mode, h.virtualization_status,
                       (SELECT d.vendor_id FROM pci_device d WHERE d.host_id = h.id AND d.kind = 'gpu'
                         ORDER BY d.bdf LIMIT 1) AS vendor_id
                  FROM host h WHERE h.id = ?
                """ + (lock ? " FOR NO KEY UPDATE OF h" : ""))
                .param(hostId)
                .query((rs, n) -> new HostRow(rs.getObject("id", UUID.class), rs.getString("name"),
                        rs.getString("gpu_model"), catalog.vendorOfPciVendor(rs.getString("vendor_id")).orElse(null),
                        rs.getString("virtualization_mode"), rs.getString("virtualization_status")))
                .optional().orElseThrow(() -> ApiException.notFound("Host", hostId));
        return row;
    }

    private Map<String, Object> map(String text) {
        return text == null ? Map.of() : json.readValue(text, new TypeReference<Map<String, Object>>() { });
    }
}
