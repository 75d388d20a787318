package io.gpucloud.controlplane.console;

import static org.assertj.core.api.Assertions.assertThat;

import com.microsoft.playwright.Download;
import com.microsoft.playwright.Locator;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.options.AriaRole;
import java.nio.file.Files;
import java.time.OffsetDateTime;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** Tenants, their projects' quotas and users, the monthly billing report with its CSV, and Server-Timing. */
class TenantPagesTest extends ConsoleTestBase {

    private final String suffix = UUID.randomUUID().toString().substring(0, 8);
    private final String viewerEmail = "viewer-" + suffix + "@demo.local";
    private final String billingTenant = "billing-" + suffix;
    private final String billingType = "bill-test-" + suffix;

    @AfterEach
    void cleanUp() {
        jdbc.sql("DELETE FROM app_user WHERE email = ?").param(viewerEmail).update();
        jdbc.sql("DELETE FROM billing_span WHERE instance_type = ?").param(billingType).update();
        jdbc.sql("DELETE FROM vm WHERE instance_type = ?").param(billingType).update();
        jdbc.sql("DELETE FROM reporting.rate_card WHERE instance_type = ?").param(billingType).update();
        jdbc.sql("DELETE FROM project WHERE tenant_id IN (SELECT id FROM tenant WHERE name = ?)").param(billingTenant).update();
        jdbc.sql("DELETE FROM tenant WHERE name = ?").param(billingTenant).update();
    }

    @Test
    void adminOpensATenantSeesQuotasAndAddsAViewer() {
        signInAsAdmin();
        page.getByRole(AriaRole.LINK, new Page.GetByRoleOptions().setName("Tenants").setExact(true)).click();
        page.waitForURL("**/console/admin/tenants");
        Locator demoRow = page.locator("#tenants tbody tr", new Page.LocatorOptions().setHasText("demo"));
        assertThat(demoRow.count()).isGreaterThanOrEqualTo(1);
        int users = jdbc.sql("SELECT count(*) FROM app_user u JOIN tenant t ON t.id = u.tenant_id WHERE t.name = 'demo'")
                .query(Integer.class).single();
        assertThat(demoRow.first().locator("td").nth(2).textContent()).isEqualTo(String.valueOf(users));
        screenshot(page, "tenants");

        page.getByRole(AriaRole.LINK, new Page.GetByRoleOptions().setName("demo").setExact(true)).first().click();
        page.waitForURL("**/console/admin/tenants/*");
        assertThat(page.locator("h1").textContent()).isEqualTo("demo");
        Locator project = page.locator("section.project-card[data-project=demo]");
        assertThat(project.count()).isEqualTo(1);
        // GPUs per model, vCPUs and VMs, each with a bar
        assertThat(project.locator("meter").count()).isGreaterThanOrEqualTo(3);
        assertThat(project.textContent()).contains("vcpus", "vms", "gpus:");
        long vms = jdbc.sql("""
                SELECT count(*) FROM vm JOIN project p ON p.id = vm.project_id JOIN tenant t ON t.id = p.tenant_id
                 WHERE t.name = 'demo' AND p.name = 'demo' AND vm.state NOT IN ('deleted', 'failed')
                """).query(Long.class).single();
        if (vms == 0) {
            // the fleet is shared with other tests: only an idle project has a known use
            assertThat(project.locator("tr", new Locator.LocatorOptions().setHasText("vms")).locator("td").nth(1)
                    .textContent()).isEqualTo("0");
        }
        assertThat(page.locator("#users").textContent()).contains(USER_EMAIL);

        // add a viewer through the form
        page.getByLabel("E-mail").fill(viewerEmail);
        page.getByLabel("Name").fill("Vera Viewer");
        page.getByLabel("Role").selectOption("viewer");
        page.getByLabel("Initial password").fill("viewer-password-123");
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Add user")).click();
        page.waitForLoadState();
        assertThat(page.locator(".alert.ok").textContent()).contains("Added " + viewerEmail + " as viewer");
        Locator row = page.locator("#users tr[data-email='" + viewerEmail + "']");
        assertThat(row.locator(".badge.role").textContent()).isEqualTo("viewer");
        assertThat(row.textContent()).contains("never", "active");
        screenshot(page, "tenant-detail");

        // the same e-mail again: the message next to the form, what was typed kept
        page.getByLabel("E-mail").fill(viewerEmail.toUpperCase());
        page.getByLabel("Initial password").fill("viewer-password-456");
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Add user")).click();
        page.waitForLoadState();
        assertThat(page.locator("#add-user .alert.error").textContent()).contains("already exists");
        assertThat(page.getByLabel("E-mail").inputValue()).isEqualTo(viewerEmail.toUpperCase());
        // a password that is too short is refused too
        page.getByLabel("E-mail").fill("short-" + viewerEmail);
        page.getByLabel("Initial password").fill("short");
        page.locator("#password").evaluate("e => e.removeAttribute('minlength')");
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Add user")).click();
        page.waitForLoadState();
        assertThat(page.locator("#add-user .alert.error").textContent()).contains("at least 12 characters");
        assertThat(jdbc.sql("SELECT count(*) FROM app_user WHERE email = ?").param("short-" + viewerEmail)
                .query(Long.class).single()).isZero();

        // the new viewer signs in, lands in the customer view and is refused operator pages
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Sign out")).click();
        page.waitForURL("**/login?signedOut");
        signIn(viewerEmail, "viewer-password-123");
        assertThat(page.url()).contains("/console/projects/");
        // a viewer sees the project's VMs but not the create form
        assertThat(page.locator("h1").textContent()).contains("Project demo");
        assertThat(page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Create VM")).count()).isZero();
        expectRefusal(403);
        assertThat(page.navigate(url("/console/admin/tenants")).status()).isEqualTo(403);
    }

    @Test
    void disabledUserCannotSignIn() {
        users.create(viewerEmail, null, "viewer-password-123", "viewer", "demo");
        signInAsAdmin();
        UUID demo = jdbc.sql("SELECT id FROM tenant WHERE name = 'demo'").query(UUID.class).single();
        page.navigate(url("/console/admin/tenants/" + demo));
        Locator row = page.locator("#users tr[data-email='" + viewerEmail + "']");
        row.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Disable")).click();
        page.waitForLoadState();
        assertThat(page.locator(".alert.ok").textContent()).contains("Disabled " + viewerEmail);
        assertThat(row.textContent()).contains("disabled");
        assertThat(row.getByRole(AriaRole.BUTTON).count()).isZero();

        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Sign out")).click();
        page.waitForURL("**/login?signedOut");
        signIn(viewerEmail, "viewer-password-123");
        assertThat(page.url()).contains("/login?error");
    }

    @Test
    void adminCreatesATenantAndAProjectFromTheConsole() {
        String name = "acme-" + UUID.randomUUID().toString().substring(0, 8);
        signInAsAdmin();
        page.navigate(url("/console/admin/tenants"));
        page.getByLabel("New tenant").fill(name);
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Create tenant")).click();
        page.waitForURL("**/console/admin/tenants/*");
        assertThat(page.locator("h1").textContent()).isEqualTo(name);
        assertThat(page.locator(".alert.ok").textContent()).contains("Created tenant " + name);

        page.getByLabel("New project").fill("training");
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Create project")).click();
        assertThat(page.locator(".alert.ok").textContent()).contains("Created project training");
        assertThat(page.locator(".project-card[data-project='training']").count()).isEqualTo(1);

        // the same name again is refused with the reason, nothing is created
        page.getByLabel("New project").fill("training");
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Create project")).click();
        assertThat(page.locator("#flash-error").textContent()).contains("training");
        assertThat(page.locator(".project-card[data-project='training']").count()).isEqualTo(1);

        page.navigate(url("/console/admin/tenants"));
        page.getByLabel("New tenant").fill(name);
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Create tenant")).click();
        assertThat(page.locator("#flash-error").textContent()).contains(name);
        assertThat(jdbc.sql("SELECT count(*) FROM tenant WHERE name = ?").param(name).query(Long.class).single())
                .isEqualTo(1);
    }

    @Test
    void adminChangesAProjectQuotaAndTheApiEnforcesIt() {
        String demoProject = jdbc.sql("SELECT p.id FROM project p JOIN tenant t ON t.id = p.tenant_id "
                + "WHERE t.name = 'demo' AND p.name = 'demo'").query(UUID.class).single().toString();
        String tenantId = jdbc.sql("SELECT id FROM tenant WHERE name = 'demo'").query(UUID.class).single().toString();
        signInAsAdmin();
        try {
            page.navigate(url("/console/admin/tenants/" + tenantId));
            Locator card = page.locator(".project-card[data-project='demo']");
            card.locator("summary").click();
            card.locator("input[name='limit.vms']").fill("3");
            card.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Save quota")).click();
            assertThat(page.locator(".alert.ok").textContent()).contains("Quota saved");
            JsonNode quotas = call("GET", "/api/v1/quotas", PROJECT_TOKEN, null).json();
            JsonNode vms = null;
            for (JsonNode q : quotas.get("items")) {
                if (q.get("resource").asString().equals("vms")) {
                    vms = q;
                }
            }
            assertThat(vms).as("the customer API reports the new limit").isNotNull();
            assertThat(vms.get("limit").asInt()).isEqualTo(3);
            assertThat(jdbc.sql("SELECT max_amount FROM project_quota WHERE project_id = ?::uuid AND resource = 'vms'")
                    .param(demoProject).query(Integer.class).single()).isEqualTo(3);
            assertThat(jdbc.sql("SELECT count(*) FROM project_quota WHERE project_id = ?::uuid").param(demoProject)
                    .query(Long.class).single()).as("untouched limits stay defaults").isEqualTo(1);

            // not a number: refused with the reason, nothing changes
            page.locator(".project-card[data-project='demo'] summary").click();
            page.locator(".project-card[data-project='demo'] input[name='limit.vcpus']").evaluate("e => e.type = 'text'");
            page.locator(".project-card[data-project='demo'] input[name='limit.vcpus']").fill("lots");
            page.locator(".project-card[data-project='demo']").getByRole(AriaRole.BUTTON,
                    new Locator.GetByRoleOptions().setName("Save quota")).click();
            assertThat(page.locator("#flash-error").textContent()).contains("vcpus must be a whole number");
            assertThat(jdbc.sql("SELECT count(*) FROM project_quota WHERE project_id = ?::uuid").param(demoProject)
                    .query(Long.class).single()).isEqualTo(1);
        } finally {
            jdbc.sql("DELETE FROM project_quota WHERE project_id = ?::uuid").param(demoProject).update();
        }
    }

    @Test
    void unknownTenantIsNotFound() {
        signInAsAdmin();
        expectRefusal(404);
        assertThat(page.navigate(url("/console/admin/tenants/" + UUID.randomUUID())).status()).isEqualTo(404);
        assertThat(page.locator("h1").textContent()).isEqualTo("Not found");
        assertThat(page.navigate(url("/console/admin/tenants/not-a-uuid")).status()).isEqualTo(404);
    }

    @Test
    void billingShowsTheMonthsInvoicesAndTheCsvHasTheSameFigures() throws Exception {
        YearMonth month = YearMonth.now(ZoneOffset.UTC).minusMonths(2);
        OffsetDateTime first = month.atDay(1).atStartOfDay().atOffset(ZoneOffset.UTC);
        UUID tenant = UUID.randomUUID();
        UUID project = UUID.randomUUID();
        UUID vm = UUID.randomUUID();
        jdbc.sql("INSERT INTO tenant (id, name) VALUES (?, ?)").params(tenant, billingTenant).update();
        jdbc.sql("INSERT INTO project (id, tenant_id, name) VALUES (?, ?, 'training')").params(project, tenant).update();
        jdbc.sql("""
                INSERT INTO vm (id, project_id, name, state, instance_type, location, gpu_count, vcpus, memory_mib,
                                deleted_at)
                VALUES (?, ?, 'billed', 'deleted', ?, 'bill-loc', 0, 4, 4096, ?)
                """).params(vm, project, billingType, first.plusDays(3)).update();
        // $3.15 an hour from before the month; 10 h 30 min on the 3rd: 10.5 × 3.15 = 33.075 → $33.08
        jdbc.sql("INSERT INTO reporting.rate_card (instance_type, location, price_per_hour, effective_from) VALUES (?, NULL, 3.15, ?)")
                .params(billingType, first.minusDays(10)).update();
        jdbc.sql("""
                INSERT INTO billing_span (project_id, vm_id, resource, instance_type, location, quantity, period)
                VALUES (?, ?, 'vm', ?, 'bill-loc', 1, tstzrange(?, ?))
                """).params(project, vm, billingType, first.plusDays(2).plusHours(8),
                first.plusDays(2).plusHours(18).plusMinutes(30)).update();

        signInAsAdmin();
        page.navigate(url("/console/admin/billing?month=" + month));
        assertThat(page.locator("h1").textContent()).isEqualTo("Billing " + month);
        Locator bill = page.locator("section.tenant-bill[data-tenant='" + billingTenant + "']");
        assertThat(bill.locator(".tenant-total").textContent()).isEqualTo("$33.08");
        Locator line = bill.locator("tr", new Locator.LocatorOptions().setHasText(billingType));
        assertThat(line.locator("td").allTextContents())
                .containsExactly("training", billingType, "bill-loc", "1", "10.5000", "$3.1500",
                        first.minusDays(10).toLocalDate().toString(), "$33.08");
        assertThat(bill.locator(".project-total").textContent()).isEqualTo("$33.08");
        assertThat(page.locator("#next-month").textContent()).contains(month.plusMonths(1).toString());
        screenshot(page, "billing");

        Download download = page.waitForDownload(() -> page.locator("#download-csv").click());
        assertThat(download.suggestedFilename()).isEqualTo("invoices-" + month + ".csv");
        List<String> csv = Files.readAllLines(download.path());
        assertThat(csv.get(0)).startsWith("tenant_name,project_id,project_name,month,instance_type");
        List<String> mine = csv.stream().filter(l -> l.contains(billingType)).toList();
        assertThat(mine).hasSize(1);
        assertThat(mine.get(0)).startsWith(billingTenant + ",\"" + project + "\",training," + month + "," + billingType
                + ",bill-loc,3.1500,").endsWith(",1,37800,10.5000,33.08");

        // the month picker steps back; a bad month is a message, not an error page
        page.locator("#previous-month").click();
        page.waitForURL("**/console/admin/billing?month=" + month.minusMonths(1));
        assertThat(page.locator("section.tenant-bill[data-tenant='" + billingTenant + "']").count()).isZero();
        page.navigate(url("/console/admin/billing?month=2026-13"));
        assertThat(page.getByRole(AriaRole.ALERT).textContent()).contains("month must look like");
        page.navigate(url("/console/admin/billing?month=2999-01"));
        assertThat(page.getByRole(AriaRole.ALERT).textContent()).contains("has not begun");
        var bad = page.request().get(url("/console/admin/billing.csv?month=nope"));
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.text()).contains("month must look like");
    }

    @Test
    void consolePagesCarryServerTiming() {
        com.microsoft.playwright.Response login = page.navigate(url("/login"));
        assertThat(login.headers().get("server-timing")).matches("app;dur=\\d+\\.\\d");
        signInAsAdmin();
        for (String path : List.of("/console/admin", "/console/admin/tenants", "/console/admin/billing")) {
            com.microsoft.playwright.Response r = page.navigate(url(path));
            assertThat(r.status()).as(path).isEqualTo(200);
            assertThat(r.headers().get("server-timing")).as(path).matches("app;dur=\\d+\\.\\d");
        }
        // APIs are not timed this way
        assertThat(page.request().get(url("/actuator/health")).headers()).doesNotContainKey("server-timing");
    }

    /** The dashboard counts free partitions in one pass (see docs/benchmarks.md): the same figures as the view. */
    @Test
    void dashboardFreePartitionsFollowTheReportingViewsRules() {
        awaitDemoFleetReady();
        signInAsAdmin();
        List<String> expected = jdbc.sql("""
                SELECT h.gpu_model || ' ' || ps.gpu_count || ' GPU ' || count(*) FILTER (WHERE ps.state = 'free')
                       || ' ' || count(*)
                  FROM reporting.partition_state ps JOIN host h ON h.id = ps.host_id
                 WHERE h.state = 'ready'
                 GROUP BY h.gpu_model, ps.gpu_count ORDER BY h.gpu_model, ps.gpu_count DESC
                """).query(String.class).list();
        List<String> shown = page.locator("#free-partitions tbody tr").all().stream()
                .map(r -> String.join(" ", r.locator("td").allTextContents())).toList();
        assertThat(expected).isNotEmpty();
        assertThat(shown).isEqualTo(expected);
    }

    @org.springframework.beans.factory.annotation.Autowired
    private io.gpucloud.controlplane.tenancy.Users users;
}
