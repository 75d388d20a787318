package io.gpucloud.controlplane.console;

import io.gpucloud.controlplane.placement.PlacementService;
import io.gpucloud.controlplane.tenancy.AuditLog;
import io.gpucloud.controlplane.vm.VmQueries;
import io.gpucloud.controlplane.vm.VmService;
import io.gpucloud.controlplane.web.ApiException;
import io.gpucloud.placement.NumaPolicy;
import io.gpucloud.placement.PlacementDecision;
import io.gpucloud.placement.PlacementRequest;
import jakarta.servlet.http.HttpServletRequest;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.stereotype.Controller;
import org.springframework.ui.Model;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.servlet.mvc.support.RedirectAttributes;
import tools.jackson.databind.JsonNode;

/**
 * Operators' VM pages: the fleet-wide list with filters, and one VM with its placement, the
 * explanation when nothing fits, and the host-job timeline, refreshed live while it changes.
 */
@Controller
class AdminVmPagesController {

    static final int PAGE_SIZE = 50;

    private final JdbcClient jdbc;
    private final VmQueries queries;
    private final VmService vms;
    private final PlacementService placement;
    private final AuditLog audit;

    AdminVmPagesController(JdbcClient jdbc, VmQueries queries, VmService vms, PlacementService placement,
                           AuditLog audit) {
        this.jdbc = jdbc;
        this.queries = queries;
        this.vms = vms;
        this.placement = placement;
        this.audit = audit;
    }

    record Row(UUID id, String name, String state, String stateReason, String instanceType, String gpuModel,
               int gpuCount, UUID projectId, String project, String tenant, UUID hostId, String host, Instant createdAt) {
    }

    @GetMapping("/console/admin/vms")
    String list(@RequestParam(required = false) String state, @RequestParam(required = false) String q,
                @RequestParam(required = false) String project, @RequestParam(required = false) String host,
                @RequestParam(defaultValue = "1") int page, Model model) {
        state = blankToNull(state);
        if (state != null && !VmPages.STATES.contains(state)) {
            state = null;
        }
        String search = q;
        q = like(q);
        String projectLike = like(project);
        String hostLike = like(host);
        page = Math.max(1, Math.min(page, 100_000));
        // deleted VMs are history: listed only when asked for
        String where = """
                 WHERE (CAST(? AS text) IS NULL AND v.state <> 'deleted' OR v.state = ?)
                   AND (CAST(? AS text) IS NULL OR v.name ILIKE ? OR v.id::text = lower(?))
                   AND (CAST(? AS text) IS NULL OR p.name ILIKE ? OR t.name ILIKE ?)
                   AND (CAST(? AS text) IS NULL OR h.name ILIKE ?)
                """;
        Object[] params = {state, state, q, q, trimmed(q), projectLike, projectLike, projectLike, hostLike, hostLike};
        long total = jdbc.sql("""
                SELECT count(*) FROM vm v JOIN project p ON p.id = v.project_id JOIN tenant t ON t.id = p.tenant_id
                  LEFT JOIN host h ON h.id = v.host_id
                """ + where).params(params).query(Long.class).single();
        List<Object> pageParams = new ArrayList<>(Arrays.asList(params));
        pageParams.add(PAGE_SIZE);
        pageParams.add((long) (page - 1) * PAGE_SIZE);
        List<Row> rows = jdbc.sql("""
                SELECT v.id, v.name, v.state, v.state_reason, v.instance_type, v.gpu_model, v.gpu_count, v.project_id,
                       p.name AS project, t.name AS tenant, v.host_id, h.name AS host, v.created_at
                  FROM vm v JOIN project p ON p.id = v.project_id JOIN tenant t ON t.id = p.tenant_id
                  LEFT JOIN host h ON h.id = v.host_id
                """ + where + " ORDER BY v.created_at DESC, v.id DESC LIMIT ? OFFSET ?")
                .params(pageParams)
                .query((rs, n) -> new Row(rs.getObject("id", UUID.class), rs.getString("name"), rs.getString("state"),
                        rs.getString("state_reason"), rs.getString("instance_type"), rs.getString("gpu_model"),
                        rs.getInt("gpu_count"), rs.getObject("project_id", UUID.class), rs.getString("project"),
                        rs.getString("tenant"), rs.getObject("host_id", UUID.class), rs.getString("host"),
                        rs.getTimestamp("created_at").toInstant()))
                .list();
        long pages = Math.max(1, (total + PAGE_SIZE - 1) / PAGE_SIZE);
        model.addAttribute("rows", rows);
        model.addAttribute("total", total);
        model.addAttribute("page", page);
        model.addAttribute("pages", pages);
        model.addAttribute("states", VmPages.STATES);
        model.addAttribute("selfUrl", pageUrl(state, search, project, host, page));
        model.addAttribute("prevUrl", page > 1 ? pageUrl(state, search, project, host, page - 1) : null);
        model.addAttribute("nextUrl", page < pages ? pageUrl(state, search, project, host, page + 1) : null);
        model.addAttribute("anyTransitioning", rows.stream().anyMatch(r -> VmPages.TRANSITIONING.contains(r.state())));
        return "console/admin/vms";
    }

    private static String pageUrl(String state, String q, String project, String host, int page) {
        var b = org.springframework.web.util.UriComponentsBuilder.fromPath("/console/admin/vms");
        if (state != null) b.queryParam("state", state);
        if (blankToNull(q) != null) b.queryParam("q", q.strip());
        if (blankToNull(project) != null) b.queryParam("project", project.strip());
        if (blankToNull(host) != null) b.queryParam("host", host.strip());
        if (page > 1) b.queryParam("page", page);
        return b.encode().build().toUriString();
    }

    /** Where a placed VM sits: its partition, GPUs by module, NUMA nodes and pinned CPUs. */
    record Placement(Integer partitionId, Integer partitionSize, List<Integer> partitionModules,
                     List<Integer> gpuModules, List<String> gpuBdfs, List<Integer> numaNodes, List<Integer> cpus) {
    }

    /**
     * One step of a host job as the timeline shows it; {@code subKind} is the sub-job of a SEQUENCE it
     * belongs to (the worker prefixes the step's name with it), null for other jobs.
     */
    record Step(String subKind, String name, String command, Integer exitCode, String output, long durationMs,
                boolean ok) {
    }

    /** {@code failedKind}: the sub-job of a failed SEQUENCE that failed, null otherwise. */
    record Job(VmQueries.JobView job, List<Step> steps, String error, String errorCode, String failedKind,
               String cssClass) {
    }

    private static final java.util.regex.Pattern SUB_KIND = java.util.regex.Pattern.compile("([A-Z_]+): (.*)",
            java.util.regex.Pattern.DOTALL);

    record Explanation(String text, Map<String, Integer> rejections) {
    }

    @GetMapping("/console/admin/vms/{vmId}")
    String detail(@PathVariable String vmId, Model model) {
        UUID id = VmPages.id(vmId);
        VmQueries.VmView vm;
        try {
            vm = queries.get(id, null);
        } catch (ApiException e) {
            throw new VmPages.NotFound();
        }
        var owner = jdbc.sql("""
                SELECT p.name, t.name, t.id FROM project p JOIN tenant t ON t.id = p.tenant_id WHERE p.id = ?
                """).param(vm.projectId()).query((rs, n) -> new String[] {rs.getString(1), rs.getString(2),
                        rs.getString(3)}).single();
        model.addAttribute("vm", vm);
        model.addAttribute("projectName", owner[0]);
        model.addAttribute("tenantName", owner[1]);
        model.addAttribute("tenantId", owner[2]);
        model.addAttribute("placement", placementOf(id, vm));
        model.addAttribute("jobs", vm.jobs().stream().map(AdminVmPagesController::job).toList());
        model.addAttribute("live", VmPages.live(jdbc, id, vm.state()));
        model.addAttribute("explanation", explanation(vm));
        return "console/admin/vm";
    }

    @PostMapping("/console/admin/vms/{vmId}/{action:stop|start|reboot|delete}")
    String act(@AuthenticationPrincipal ConsoleUser me, @PathVariable String vmId, @PathVariable String action,
               HttpServletRequest request, RedirectAttributes flash) {
        UUID id = VmPages.id(vmId);
        try {
            vms.signal(id, action.equals("delete") ? "destroy" : action, null);
            VmPages.audit(audit, me.asAdmin(), "vm." + action, "vm", id, request, null);
            flash.addFlashAttribute("ok", switch (action) {
                case "delete" -> "Deleting the VM.";
                case "stop" -> "Stopping the VM.";
                case "start" -> "Starting the VM.";
                default -> "Rebooting the VM.";
            });
        } catch (ApiException e) {
            if (e.status().value() == 404) {
                throw new VmPages.NotFound();
            }
            VmPages.audit(audit, me.asAdmin(), "vm." + action, "vm", id, request, e);
            flash.addFlashAttribute("error", VmPages.message(e));
        }
        return "redirect:/console/admin/vms/" + id;
    }


    private Placement placementOf(UUID id, VmQueries.VmView vm) {
        if (vm.hostId() == null) {
            return null;
        }
        return jdbc.sql("""
                SELECT p.partition_id, p.gpu_count AS partition_size, p.module_ids AS partition_modules,
                       ARRAY(SELECT module_id FROM pci_device d WHERE d.host_id = v.host_id AND d.vm_id = v.id
                                AND d.kind = 'gpu' AND d.module_id IS NOT NULL ORDER BY module_id) AS gpu_modules,
                       ARRAY(SELECT x FROM unnest(v.cpu_ids) AS x ORDER BY x) AS cpus
                  FROM vm v LEFT JOIN gpu_partition p ON p.host_id = v.host_id AND p.vm_id = v.id
                 WHERE v.id = ?
                """).params(id)
                .query((rs, n) -> new Placement((Integer) rs.getObject("partition_id"),
                        (Integer) rs.getObject("partition_size"), ints(rs, "partition_modules"),
                        ints(rs, "gpu_modules"), vm.gpuBdfs(), vm.numaNodes(), ints(rs, "cpus")))
                .single();
    }

    /**
     * Why no host takes a pending VM: the reason its workflow recorded, and the placement engine's
     * answer now (a preview claims nothing).
     */
    private Explanation explanation(VmQueries.VmView vm) {
        if (!vm.state().equals("pending") && !vm.state().equals("failed")) {
            return null;
        }
        try {
            PlacementDecision d = placement.preview(new PlacementRequest(vm.id(), vm.gpuModel(), vm.gpuCount(),
                    vm.vcpus(), vm.memoryMiB(), vm.location(), Set.of(), NumaPolicy.PREFERRED, false, null,
                    vm.bootDisk()));
            // only the filters that turned hosts away
            Map<String, Integer> rejections = new java.util.LinkedHashMap<>();
            d.rejections().forEach((reason, hosts) -> {
                if (hosts != null && hosts > 0) {
                    rejections.put(reason, hosts);
                }
            });
            if (d.placed()) {
                return new Explanation("A host fits now (" + d.candidates().size()
                        + " candidates); the workflow places it on its next try.", rejections);
            }
            return new Explanation(d.explanation(), rejections);
        } catch (RuntimeException e) {
            return new Explanation("The placement preview failed: " + e.getMessage(), Map.of());
        }
    }

    private static Job job(VmQueries.JobView j) {
        JsonNode r = j.result();
        List<Step> steps = new ArrayList<>();
        String error = null;
        String code = null;
        String failedKind = null;
        boolean sequence = "SEQUENCE".equals(j.kind()) || "TEARDOWN".equals(j.kind());
        if (r != null && r.isObject()) {
            JsonNode s = r.get("steps");
            if (s != null && s.isArray()) {
                for (JsonNode step : s) {
                    String name = text(step, "name");
                    String subKind = null;
                    var m = name == null || !sequence ? null : SUB_KIND.matcher(name);
                    if (m != null && m.matches()) {
                        subKind = m.group(1);
                        name = m.group(2);
                    }
                    steps.add(new Step(subKind, name, text(step, "command"),
                            step.hasNonNull("exitCode") ? step.get("exitCode").asInt() : null, text(step, "output"),
                            step.hasNonNull("durationMs") ? step.get("durationMs").asLong() : 0,
                            !step.has("ok") || step.get("ok").asBoolean()));
                }
            }
            error = text(r, "error");
            code = text(r, "errorCode");
            JsonNode facts = r.get("facts");
            failedKind = facts == null || !facts.isObject() ? null : text(facts, "failedKind");
        }
        String css = switch (j.state()) {
            case "succeeded" -> "ok";
            case "failed", "cancelled" -> "failed";
            default -> "running";
        };
        return new Job(j, steps, error, code, failedKind, css);
    }

    private static String text(JsonNode node, String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? null : v.asString();
    }

    private static List<Integer> ints(ResultSet rs, String column) throws SQLException {
        java.sql.Array a = rs.getArray(column);
        if (a == null) {
            return List.of();
        }
        return Arrays.stream((Object[]) a.getArray()).map(o -> ((Number) o).intValue()).toList();
    }


    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }

    private static String trimmed(String likePattern) {
        return likePattern == null ? null : likePattern.substring(1, likePattern.length() - 1).replace("\\", "");
    }

    /** A substring search pattern with LIKE's wildcards escaped. */
    private static String like(String s) {
        s = blankToNull(s);
        if (s == null) {
            return null;
        }
        if (s.length() > 100) {
            s = s.substring(0, 100);
        }
        return "%" + s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%";
    }

    static Instant ts(Timestamp t) {
        return t == null ? null : t.toInstant();
    }
}
