package io.gpucloud.controlplane.console;

import io.gpucloud.controlplane.tenancy.AuditLog;
import io.gpucloud.controlplane.tenancy.Users;
import io.gpucloud.controlplane.web.ApiException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.stereotype.Controller;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.ui.Model;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.servlet.mvc.support.RedirectAttributes;

/**
 * Operators' view of tenants: the list (projects, users, running VMs, GPUs in use, this month's
 * GPU-hours and revenue) and one tenant (projects with quota use, users with an add-user form,
 * usage per month). A fixed handful of queries per page, whatever the fleet size.
 */
@Controller
class TenantsController {

    static final int PAGE_SIZE = 50;
    static final Set<String> TENANT_ROLES = Set.of("owner", "member", "viewer");

    private final JdbcClient jdbc;
    private final Users users;
    private final AuditLog audit;
    private final int defaultGpusPerModel;
    private final int defaultVcpus;
    private final int defaultVms;

    private final io.gpucloud.controlplane.tenancy.Tenants tenants;
    private final io.gpucloud.controlplane.api.Quotas quotas;

    TenantsController(JdbcClient jdbc, Users users, AuditLog audit, io.gpucloud.controlplane.tenancy.Tenants tenants,
                      io.gpucloud.controlplane.api.Quotas quotas,
                      @Value("${gpucloud.api.quota-defaults.gpus-per-model:16}") int defaultGpusPerModel,
                      @Value("${gpucloud.api.quota-defaults.vcpus:512}") int defaultVcpus,
                      @Value("${gpucloud.api.quota-defaults.vms:20}") int defaultVms) {
        this.tenants = tenants;
        this.quotas = quotas;
        this.jdbc = jdbc;
        this.users = users;
        this.audit = audit;
        this.defaultGpusPerModel = defaultGpusPerModel;
        this.defaultVcpus = defaultVcpus;
        this.defaultVms = defaultVms;
    }

    record TenantRow(UUID id, String name, int projects, int users, int runningVms, int gpusInUse,
                     BigDecimal gpuHours, BigDecimal revenue) {
    }

    record Quota(String resource, int limit, long inUse) {
        public boolean over() {
            return inUse > limit;
        }
    }

    record ProjectRow(UUID id, String name, java.time.Instant createdAt, int vms, List<Quota> quotas) {
    }

    record MonthUsage(LocalDate month, int vms, BigDecimal instanceHours, BigDecimal gpuHours, BigDecimal revenue) {
    }

    @GetMapping("/console/admin/tenants")
    @Transactional(readOnly = true)
    String tenants(@RequestParam(defaultValue = "1") String page, Model model) {
        int pageNo = parsePage(page);
        io.gpucloud.controlplane.reporting.Invoices.customPlans(jdbc);
        long total = jdbc.sql("SELECT count(*) FROM tenant").query(Long.class).single();
        LocalDate month = YearMonth.now(ZoneOffset.UTC).atDay(1);
        List<TenantRow> rows = jdbc.sql("""
                WITH t AS (SELECT id, name FROM tenant ORDER BY name, id LIMIT ? OFFSET ?),
                     u AS (SELECT tenant_id, sum(gpu_hours) AS gpu_hours, sum(revenue) AS revenue
                             FROM reporting.tenant_usage_monthly
                            WHERE month = ?
                            GROUP BY tenant_id)
                SELECT t.id, t.name,
                       (SELECT count(*) FROM project p WHERE p.tenant_id = t.id)::integer AS projects,
                       (SELECT count(*) FROM app_user a WHERE a.tenant_id = t.id)::integer AS users,
                       coalesce(v.running, 0) AS running, coalesce(v.gpus, 0) AS gpus,
                       coalesce(u.gpu_hours, 0) AS gpu_hours, coalesce(u.revenue, 0) AS revenue
                  FROM t
                  LEFT JOIN LATERAL (
                       SELECT count(*) FILTER (WHERE vm.state = 'running')::integer AS running,
                              coalesce(sum(vm.gpu_count) FILTER (WHERE vm.host_id IS NOT NULL
                                       AND vm.state NOT IN ('deleted', 'failed')), 0)::integer AS gpus
                         FROM project p JOIN vm ON vm.project_id = p.id
                        WHERE p.tenant_id = t.id AND vm.state NOT IN ('deleted', 'failed')) v ON true
                  LEFT JOIN u ON u.tenant_id = t.id
                 ORDER BY t.name, t.id
                """).params(PAGE_SIZE, (pageNo - 1) * PAGE_SIZE, month)
                .query((rs, n) -> new TenantRow(rs.getObject(1, UUID.class), rs.getString(2), rs.getInt(3),
                        rs.getInt(4), rs.getInt(5), rs.getInt(6), rs.getBigDecimal(7), rs.getBigDecimal(8)))
                .list();
        model.addAttribute("tenants", rows);
        model.addAttribute("month", YearMonth.from(month).toString());
        model.addAttribute("page", pageNo);
        model.addAttribute("total", total);
        model.addAttribute("pages", Math.max(1, (total + PAGE_SIZE - 1) / PAGE_SIZE));
        return "console/admin/tenants";
    }

    @GetMapping("/console/admin/tenants/{id}")
    @Transactional(readOnly = true)
    String tenant(@PathVariable String id, Model model, HttpServletResponse response) {
        UUID tenantId = VmPages.id(id);
        Map<String, Object> tenant = jdbc.sql("SELECT id, name, created_at FROM tenant WHERE id = ?")
                .param(tenantId).query().listOfRows().stream().findFirst().orElseThrow(VmPages.NotFound::new);
        model.addAttribute("tenant", tenant);
        io.gpucloud.controlplane.reporting.Invoices.customPlans(jdbc);
        model.addAttribute("projects", projects(tenantId));
        model.addAttribute("users", users.list(tenantId));
        LocalDate from = YearMonth.now(ZoneOffset.UTC).minusMonths(5).atDay(1);
        model.addAttribute("usage", jdbc.sql("""
                SELECT month, sum(vms)::integer, sum(instance_hours), sum(gpu_hours), sum(revenue)
                  FROM reporting.tenant_usage_monthly
                 WHERE tenant_id = ? AND month >= ?
                 GROUP BY month ORDER BY month DESC
                """).params(tenantId, from)
                .query((rs, n) -> new MonthUsage(rs.getObject(1, LocalDate.class), rs.getInt(2), rs.getBigDecimal(3),
                        rs.getBigDecimal(4), rs.getBigDecimal(5))).list());
        if (!model.containsAttribute("form")) {
            model.addAttribute("form", new UserForm("", "", "member"));
        }
        model.addAttribute("roles", List.of("owner", "member", "viewer"));
        return "console/admin/tenant";
    }

    /** Quota limits (project_quota or the defaults) against use, the rules of api.Quotas, for all projects at once. */
    private List<ProjectRow> projects(UUID tenantId) {
        record P(UUID id, String name, java.time.Instant createdAt) {
        }
        List<P> ps = jdbc.sql("SELECT id, name, created_at FROM project WHERE tenant_id = ? ORDER BY name")
                .param(tenantId)
                .query((rs, n) -> new P(rs.getObject(1, UUID.class), rs.getString(2), rs.getTimestamp(3).toInstant()))
                .list();
        Map<UUID, Map<String, Integer>> limits = new HashMap<>();
        jdbc.sql("""
                SELECT q.project_id, q.resource, q.max_amount FROM project_quota q
                  JOIN project p ON p.id = q.project_id WHERE p.tenant_id = ?
                """).param(tenantId).query(rs -> {
                    limits.computeIfAbsent(rs.getObject(1, UUID.class), k -> new HashMap<>())
                            .put(rs.getString(2), rs.getInt(3));
                });
        Map<UUID, Map<String, Long>> use = new HashMap<>();
        jdbc.sql("""
                SELECT vm.project_id, vm.gpu_model, sum(vm.gpu_count), sum(vm.vcpus), count(*)
                  FROM vm JOIN project p ON p.id = vm.project_id
                 WHERE p.tenant_id = ? AND vm.state NOT IN ('deleted', 'failed')
                 GROUP BY vm.project_id, vm.gpu_model
                """).param(tenantId).query(rs -> {
                    Map<String, Long> u = use.computeIfAbsent(rs.getObject(1, UUID.class), k -> new HashMap<>());
                    String model = rs.getString(2);
                    if (model != null && rs.getLong(3) > 0) u.merge("gpus:" + model, rs.getLong(3), Long::sum);
                    u.merge("vcpus", rs.getLong(4), Long::sum);
                    u.merge("vms", rs.getLong(5), Long::sum);
                });
        TreeSet<String> gpuModels = new TreeSet<>(jdbc.sql(
                "SELECT DISTINCT 'gpus:' || gpu_model FROM host WHERE gpu_model IS NOT NULL AND state <> 'retired'")
                .query(String.class).list());
        List<ProjectRow> rows = new ArrayList<>();
        for (P p : ps) {
            Map<String, Integer> l = limits.getOrDefault(p.id(), Map.of());
            Map<String, Long> u = use.getOrDefault(p.id(), Map.of());
            TreeSet<String> gpus = new TreeSet<>(gpuModels);
            l.keySet().stream().filter(r -> r.startsWith("gpus:")).forEach(gpus::add);
            u.keySet().stream().filter(r -> r.startsWith("gpus:")).forEach(gpus::add);
            List<Quota> quotas = new ArrayList<>();
            for (String r : gpus) quotas.add(new Quota(r, l.getOrDefault(r, defaultGpusPerModel), u.getOrDefault(r, 0L)));
            quotas.add(new Quota("vcpus", l.getOrDefault("vcpus", defaultVcpus), u.getOrDefault("vcpus", 0L)));
            quotas.add(new Quota("vms", l.getOrDefault("vms", defaultVms), u.getOrDefault("vms", 0L)));
            rows.add(new ProjectRow(p.id(), p.name(), p.createdAt(), (int) (long) u.getOrDefault("vms", 0L), quotas));
        }
        return rows;
    }

    record UserForm(String email, String displayName, String role) {
    }

    @PostMapping("/console/admin/tenants/{id}/users")
    String addUser(@PathVariable String id, @RequestParam(defaultValue = "") String email,
                   @RequestParam(defaultValue = "") String displayName, @RequestParam(defaultValue = "") String role,
                   @RequestParam(defaultValue = "") String password, @AuthenticationPrincipal ConsoleUser me,
                   HttpServletRequest request, HttpServletResponse response, Model model, RedirectAttributes flash) {
        UUID tenantId = VmPages.id(id);
        String tenantName = jdbc.sql("SELECT name FROM tenant WHERE id = ?").param(tenantId).query(String.class)
                .optional().orElseThrow(VmPages.NotFound::new);
        try {
            if (!TENANT_ROLES.contains(role)) {
                throw ApiException.badRequest("role", "role must be one of owner, member, viewer.");
            }
            Users.User created = users.create(email, displayName.isBlank() ? null : displayName.trim(), password, role,
                    tenantName);
            audit.record(new AuditLog.Event(me.asAdmin(), "user.create", "user", created.id().toString(),
                    request.getRemoteAddr(), "ok", Map.of("email", created.email(), "role", role, "tenant", tenantName)));
            flash.addFlashAttribute("flash", "Added " + created.email() + " as " + role + ".");
            return "redirect:/console/admin/tenants/" + tenantId;
        } catch (ApiException e) {
            model.addAttribute("formError", e.getMessage());
            Object field = e.properties().get("field");
            model.addAttribute("formErrorField", field == null ? ("user-exists".equals(e.type()) ? "email" : "") : field);
            model.addAttribute("form", new UserForm(email, displayName, role));
            return tenant(id, model, response);
        }
    }

    /** A new tenant, through the same rules as {@code POST /admin/api/v1/tenants}. */
    @PostMapping("/console/admin/tenants")
    String createTenant(@RequestParam(defaultValue = "") String name, @AuthenticationPrincipal ConsoleUser me,
                        HttpServletRequest request, RedirectAttributes flash) {
        try {
            io.gpucloud.controlplane.tenancy.Tenants.Tenant t = tenants.createTenant(name.trim());
            audit.record(new AuditLog.Event(me.asAdmin(), "tenant.create", "tenant", t.id().toString(),
                    request.getRemoteAddr(), "ok", Map.of("name", t.name())));
            flash.addFlashAttribute("flash", "Created tenant " + t.name() + ": add a project and its users.");
            return "redirect:/console/admin/tenants/" + t.id();
        } catch (ApiException e) {
            flash.addFlashAttribute("flashError", e.getMessage());
            flash.addFlashAttribute("tenantName", name);
            return "redirect:/console/admin/tenants";
        }
    }

    /** A new project of this tenant, through the same rules as the admin API. */
    @PostMapping("/console/admin/tenants/{id}/projects")
    String createProject(@PathVariable String id, @RequestParam(defaultValue = "") String name,
                         @AuthenticationPrincipal ConsoleUser me, HttpServletRequest request,
                         HttpServletResponse response, RedirectAttributes flash) {
        UUID tenantId = VmPages.id(id);
        if (jdbc.sql("SELECT count(*) FROM tenant WHERE id = ?").param(tenantId).query(Long.class).single() == 0) {
            throw new VmPages.NotFound();
        }
        try {
            io.gpucloud.controlplane.tenancy.Tenants.Project p = tenants.createProject(tenantId, name.trim());
            audit.record(new AuditLog.Event(me.asAdmin(), "project.create", "project", p.id().toString(),
                    request.getRemoteAddr(), "ok", Map.of("name", p.name())));
            flash.addFlashAttribute("flash", "Created project " + p.name() + ".");
        } catch (ApiException e) {
            flash.addFlashAttribute("flashError", e.getMessage());
        }
        return "redirect:/console/admin/tenants/" + tenantId;
    }

    /**
     * The quota form of one project. Only limits that differ from the defaults are kept, which is
     * what the admin API's PUT stores too: an untouched form changes nothing.
     */
    @PostMapping("/console/admin/tenants/{id}/projects/{projectId}/quota")
    String setQuota(@PathVariable String id, @PathVariable String projectId,
                    @RequestParam Map<String, String> form, @AuthenticationPrincipal ConsoleUser me,
                    HttpServletRequest request, HttpServletResponse response, RedirectAttributes flash) {
        UUID tenantId = VmPages.id(id);
        UUID pid = VmPages.id(projectId);
        if (jdbc.sql("SELECT count(*) FROM project WHERE id = ? AND tenant_id = ?")
                .params(pid, tenantId).query(Long.class).single() == 0) {
            throw new VmPages.NotFound();
        }
        Map<String, Long> limits = new java.util.LinkedHashMap<>();
        try {
            for (Map.Entry<String, String> e : form.entrySet()) {
                if (!e.getKey().startsWith("limit.")) {
                    continue;
                }
                String resource = e.getKey().substring("limit.".length());
                long limit;
                try {
                    limit = Long.parseLong(e.getValue().trim());
                } catch (NumberFormatException notANumber) {
                    throw ApiException.badRequest("limits." + resource, resource + " must be a whole number.");
                }
                if (limit != defaultLimit(resource)) {
                    limits.put(resource, limit);
                }
            }
            quotas.replace(pid, limits);
            audit.record(new AuditLog.Event(me.asAdmin(), "quota.update", "quota", pid.toString(),
                    request.getRemoteAddr(), "ok", Map.of("limits", limits)));
            flash.addFlashAttribute("flash", "Quota saved.");
        } catch (ApiException e) {
            flash.addFlashAttribute("flashError", "Quota not saved: " + e.getMessage());
        }
        return "redirect:/console/admin/tenants/" + tenantId;
    }

    private long defaultLimit(String resource) {
        if (resource.equals("vms")) return defaultVms;
        if (resource.equals("vcpus")) return defaultVcpus;
        return defaultGpusPerModel;
    }

    @PostMapping("/console/admin/tenants/{id}/users/{userId}/disable")
    String disableUser(@PathVariable String id, @PathVariable String userId, @AuthenticationPrincipal ConsoleUser me,
                       HttpServletRequest request, HttpServletResponse response, RedirectAttributes flash) {
        UUID tenantId = VmPages.id(id);
        UUID uid = VmPages.id(userId);
        Users.User user = users.find(uid).filter(u -> tenantId.equals(u.tenantId()))
                .orElseThrow(VmPages.NotFound::new);
        users.disable(uid);
        audit.record(new AuditLog.Event(me.asAdmin(), "user.disable", "user", uid.toString(), request.getRemoteAddr(),
                "ok", Map.of("email", user.email())));
        flash.addFlashAttribute("flash", "Disabled " + user.email() + ": they can no longer sign in.");
        return "redirect:/console/admin/tenants/" + tenantId;
    }


    static int parsePage(String page) {
        try {
            return Math.max(1, Math.min(100_000, Integer.parseInt(page)));
        } catch (NumberFormatException e) {
            return 1;
        }
    }
}
