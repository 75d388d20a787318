package io.gpucloud.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** The admin tenancy API: tenants, projects, project tokens, quotas and rate cards. */
class AdminTenancyTest extends CustomerApiTestBase {

    private String tenant(String admin, String name) {
        Response r = call("POST", "/admin/api/v1/tenants", admin, Map.of("name", name));
        assertThat(r.status()).as(r.body()).isEqualTo(201);
        assertThat(r.json().get("name").asString()).isEqualTo(name);
        return r.json().get("id").asString();
    }

    private String project(String admin, String tenantId, String name) {
        Response r = call("POST", "/admin/api/v1/tenants/" + tenantId + "/projects", admin, Map.of("name", name));
        assertThat(r.status()).as(r.body()).isEqualTo(201);
        assertThat(r.json().get("tenantId").asString()).isEqualTo(tenantId);
        return r.json().get("id").asString();
    }

    private String token(String admin, String projectId) {
        Response r = call("POST", "/admin/api/v1/projects/" + projectId + "/tokens", admin, Map.of("name", "ci"));
        assertThat(r.status()).as(r.body()).isEqualTo(201);
        return r.json().get("token").asString();
    }

    private String vm(String token, String name) {
        Response r = call("POST", "/api/v1/vms", token, Map.of("name", name, "instanceType", "h100x1",
                "location", "adm-nowhere"));
        assertThat(r.status()).as(r.body()).isEqualTo(201);
        return r.json().get("id").asString();
    }

    @Test
    void anOperatorCreatesATenantProjectAndTokenThatWorksOnTheCustomerApiForItsProjectOnly() {
        String admin = adminToken();
        String tenantId = tenant(admin, "Acme Robotics");
        String projectId = project(admin, tenantId, "vision");
        String otherProject = project(admin, tenantId, "speech");

        Response minted = call("POST", "/admin/api/v1/projects/" + projectId + "/tokens", admin,
                Map.of("name", "first", "expiresInDays", 30));
        assertThat(minted.status()).as(minted.body()).isEqualTo(201);
        String token = minted.json().get("token").asString();
        assertThat(token).startsWith("gpc_project_");
        assertThat(minted.json().get("prefix").asString()).isEqualTo(token.substring(0, 14));
        assertThat(Instant.parse(minted.json().get("expiresAt").asString()))
                .isBetween(Instant.now().plus(29, ChronoUnit.DAYS), Instant.now().plus(31, ChronoUnit.DAYS));
        // stored hashed: the clear token is nowhere in the database, and the listing never shows it
        assertThat(jdbc.sql("SELECT count(*) FROM api_token WHERE token_hash = ? OR token_prefix = ?")
                .params(token, token).query(Long.class).single()).isZero();
        Response listed = call("GET", "/admin/api/v1/projects/" + projectId + "/tokens", admin, null);
        assertThat(listed.json().get("items")).hasSize(1);
        assertThat(listed.body()).doesNotContain(token);

        // the token works on /api/v1 and sees only its project
        String mine = vm(token, "mine");
        String otherToken = token(admin, otherProject);
        String theirs = vm(otherToken, "theirs");
        JsonNode list = call("GET", "/api/v1/vms", token, null).json();
        assertThat(list.get("items")).hasSize(1);
        assertThat(list.get("items").get(0).get("id").asString()).isEqualTo(mine);
        assertProblem(call("GET", "/api/v1/vms/" + theirs, token, null), 404);
        assertThat(jdbc.sql("SELECT project_id FROM vm WHERE id = ?::uuid").param(mine).query(UUID.class).single())
                .hasToString(projectId);

        // reads
        JsonNode t = call("GET", "/admin/api/v1/tenants/" + tenantId, admin, null).json();
        assertThat(t.get("projectCount").asInt()).isEqualTo(2);
        JsonNode projects = call("GET", "/admin/api/v1/tenants/" + tenantId + "/projects", admin, null).json();
        assertThat(projects.get("items")).extracting(p -> p.get("name").asString()).containsExactly("vision", "speech");
        assertThat(call("GET", "/admin/api/v1/projects/" + projectId, admin, null).json().get("tenantName").asString())
                .isEqualTo("Acme Robotics");
        JsonNode all = call("GET", "/admin/api/v1/tenants", admin, null).json();
        assertThat(all.get("items")).extracting(i -> i.get("id").asString()).contains(tenantId);

        // a project token is no admin credential
        assertProblem(call("GET", "/admin/api/v1/tenants", token, null), 403);

        // audited, with the new resources' ids
        List<String> audit = jdbc.sql("""
                SELECT action || ':' || result FROM audit_event WHERE target_id IN (?, ?) ORDER BY at
                """).params(tenantId, projectId).query(String.class).list();
        assertThat(audit).containsExactly("tenant.create:succeeded", "project.create:succeeded");
        assertThat(jdbc.sql("SELECT count(*) FROM audit_event WHERE action = 'token.create' AND target_id = ? "
                        + "AND actor LIKE 'admin:%'")
                .param(minted.json().get("id").asString()).query(Long.class).single()).isEqualTo(1);
    }

    @Test
    void aQuotaSetByTheOperatorRefusesTheVmBeyondItWithTheNumbers() {
        String admin = adminToken();
        String projectId = project(admin, tenant(admin, "quota-co"), "p");
        String token = token(admin, projectId);

        Response put = call("PUT", "/admin/api/v1/projects/" + projectId + "/quota", admin,
                Map.of("limits", Map.of("vms", 2, "gpus:H100-SXM5-80GB", 1)));
        assertThat(put.status()).as(put.body()).isEqualTo(200);
        Map<String, Integer> limits = new java.util.HashMap<>();
        put.json().get("items").forEach(q -> limits.put(q.get("resource").asString(), q.get("limit").asInt()));
        assertThat(limits).containsEntry("vms", 2).containsEntry("gpus:H100-SXM5-80GB", 1).containsEntry("vcpus", 512);
        assertThat(call("GET", "/api/v1/quotas", token, null).body()).contains("\"limit\":2");

        vm(token, "one");
        Response over = call("POST", "/api/v1/vms", token, Map.of("name", "two", "instanceType", "h100x1",
                "location", "adm-nowhere"));
        assertProblem(over, 403);
        assertThat(over.json().get("resource").asString()).isEqualTo("gpus:H100-SXM5-80GB");
        assertThat(over.json().get("limit").asInt()).isEqualTo(1);
        assertThat(over.json().get("inUse").asInt()).isEqualTo(1);
        assertThat(over.json().get("requested").asInt()).isEqualTo(1);

        // PUT replaces: the GPU limit goes back to the default, vms stays at 2... then 1 refuses the second VM
        call("PUT", "/admin/api/v1/projects/" + projectId + "/quota", admin, Map.of("limits", Map.of("vms", 1)));
        JsonNode q = call("GET", "/admin/api/v1/projects/" + projectId + "/quota", admin, null).json();
        assertThat(q.toString()).contains("{\"resource\":\"gpus:H100-SXM5-80GB\",\"limit\":16,\"inUse\":1}")
                .contains("{\"resource\":\"vms\",\"limit\":1,\"inUse\":1}");
        Response overVms = call("POST", "/api/v1/vms", token, Map.of("name", "three", "instanceType", "h100x1",
                "location", "adm-nowhere"));
        assertProblem(overVms, 403);
        assertThat(overVms.json().get("resource").asString()).isEqualTo("vms");
        assertThat(jdbc.sql("SELECT count(*) FROM audit_event WHERE action = 'quota.update' AND target_id = ?")
                .param(projectId).query(Long.class).single()).isEqualTo(2);
    }

    @Test
    void badInputIsAFourHundredProblemNamingTheField() {
        String admin = adminToken();
        String tenantId = tenant(admin, "bad-input-co");
        String projectId = project(admin, tenantId, "p");

        assertFieldProblem(call("POST", "/admin/api/v1/tenants", admin, "{\"name\":\"x\",\"plan\":\"gold\"}"), 400, "plan");
        assertFieldProblem(call("POST", "/admin/api/v1/tenants", admin, "{\"name\":{\"first\":\"x\"}}"), 400, "name");
        assertFieldProblem(call("POST", "/admin/api/v1/tenants", admin, "{\"name\":[\"a\"]}"), 400, "name");
        assertFieldProblem(call("POST", "/admin/api/v1/tenants", admin, Map.of()), 400, "name");
        for (String bad : List.of("", " lead", "trail ", "a'; DROP TABLE tenant; --", "<script>", "x".repeat(101))) {
            assertFieldProblem(call("POST", "/admin/api/v1/tenants", admin, Map.of("name", bad)), 400, "name");
        }
        assertProblem(call("POST", "/admin/api/v1/tenants", admin, "{\"name\":"), 400);
        Response dupTenant = call("POST", "/admin/api/v1/tenants", admin, Map.of("name", "bad-input-co"));
        assertProblem(dupTenant, 409);
        assertThat(dupTenant.json().get("type").asString()).endsWith("/tenant-name-taken");
        Response dupProject = call("POST", "/admin/api/v1/tenants/" + tenantId + "/projects", admin, Map.of("name", "p"));
        assertProblem(dupProject, 409);
        assertThat(dupProject.json().get("type").asString()).endsWith("/project-name-taken");
        // the same project name in another tenant is fine
        project(admin, tenant(admin, "bad-input-co-2"), "p");

        // unknown ids are 404, malformed ids 400
        String unknown = UUID.randomUUID().toString();
        assertProblem(call("GET", "/admin/api/v1/tenants/" + unknown, admin, null), 404);
        assertProblem(call("POST", "/admin/api/v1/tenants/" + unknown + "/projects", admin, Map.of("name", "p")), 404);
        assertProblem(call("GET", "/admin/api/v1/projects/" + unknown, admin, null), 404);
        assertProblem(call("POST", "/admin/api/v1/projects/" + unknown + "/tokens", admin, Map.of("name", "t")), 404);
        assertProblem(call("GET", "/admin/api/v1/projects/" + unknown + "/quota", admin, null), 404);
        assertProblem(call("PUT", "/admin/api/v1/projects/" + unknown + "/quota", admin,
                Map.of("limits", Map.of("vms", 1))), 404);
        assertFieldProblem(call("GET", "/admin/api/v1/tenants/not-a-uuid", admin, null), 400, "tenantId");

        // tokens
        assertFieldProblem(call("POST", "/admin/api/v1/projects/" + projectId + "/tokens", admin, Map.of()), 400, "name");
        assertFieldProblem(call("POST", "/admin/api/v1/projects/" + projectId + "/tokens", admin,
                Map.of("name", "t", "expiresInDays", 0)), 400, "expiresInDays");
        assertFieldProblem(call("POST", "/admin/api/v1/projects/" + projectId + "/tokens", admin,
                "{\"name\":\"t\",\"expiresInDays\":\"soon\"}"), 400, "expiresInDays");

        // quotas: negative, wrong type, unknown resource, unknown field, missing limits
        String quota = "/admin/api/v1/projects/" + projectId + "/quota";
        assertFieldProblem(call("PUT", quota, admin, Map.of("limits", Map.of("vms", -1))), 400, "limits.vms");
        assertFieldProblem(call("PUT", quota, admin, "{\"limits\":{\"vcpus\":\"many\"}}"), 400, "limits.vcpus");
        assertFieldProblem(call("PUT", quota, admin, "{\"limits\":{\"vcpus\":1.5}}"), 400, "limits.vcpus");
        assertFieldProblem(call("PUT", quota, admin, Map.of("limits", Map.of("gpus:Z9000", 1))), 400, "limits.gpus:Z9000");
        assertFieldProblem(call("PUT", quota, admin, Map.of("limits", Map.of("disks", 1))), 400, "limits.disks");
        assertFieldProblem(call("PUT", quota, admin, Map.of("limits", Map.of("vms", 1), "vms", 2)), 400, "vms");
        assertFieldProblem(call("PUT", quota, admin, Map.of()), 400, "limits");
        assertFieldProblem(call("PUT", quota, admin, "{\"limits\":[1]}"), 400, "limits");
        assertThat(jdbc.sql("SELECT count(*) FROM project_quota WHERE project_id = ?::uuid").param(projectId)
                .query(Long.class).single()).as("refused PUTs change nothing").isZero();

        // rate cards
        assertFieldProblem(call("POST", "/admin/api/v1/rate-cards", admin,
                Map.of("instanceType", "z9000x1", "pricePerHour", 1)), 400, "instanceType");
        assertFieldProblem(call("POST", "/admin/api/v1/rate-cards", admin,
                Map.of("instanceType", "h100x1", "pricePerHour", -1)), 400, "pricePerHour");
        assertFieldProblem(call("POST", "/admin/api/v1/rate-cards", admin,
                Map.of("instanceType", "h100x1", "pricePerHour", "1.23456")), 400, "pricePerHour");
        assertFieldProblem(call("POST", "/admin/api/v1/rate-cards", admin,
                Map.of("instanceType", "h100x1")), 400, "pricePerHour");
        assertFieldProblem(call("POST", "/admin/api/v1/rate-cards", admin,
                Map.of("instanceType", "h100x1", "pricePerHour", "cheap")), 400, "pricePerHour");
        assertFieldProblem(call("POST", "/admin/api/v1/rate-cards", admin,
                Map.of("instanceType", "h100x1", "pricePerHour", 1, "location", "no/slash")), 400, "location");
        assertFieldProblem(call("POST", "/admin/api/v1/rate-cards", admin,
                Map.of("instanceType", "h100x1", "pricePerHour", 1, "effectiveFrom", "tomorrow")), 400, "effectiveFrom");
        assertFieldProblem(call("POST", "/admin/api/v1/rate-cards", admin, Map.of("instanceType", "h100x1",
                "pricePerHour", 1, "effectiveFrom", Instant.now().minusSeconds(3600).toString())), 400, "effectiveFrom");
        assertFieldProblem(call("POST", "/admin/api/v1/rate-cards", admin,
                Map.of("instanceType", "h100x1", "pricePerHour", 1, "currency", "EUR")), 400, "currency");
        assertThat(jdbc.sql("SELECT count(*) FROM reporting.rate_card WHERE source = 'admin' AND price_per_hour < 0")
                .query(Long.class).single()).isZero();
    }

    @Test
    void aPostedRateCardPricesUsageAndInvoicesFromItsEffectiveTime() {
        String admin = adminToken();
        String projectId = project(admin, tenant(admin, "rate-co"), "p");
        String token = token(admin, projectId);
        Instant from = Instant.now().plusSeconds(5).truncatedTo(ChronoUnit.SECONDS);

        Response posted = call("POST", "/admin/api/v1/rate-cards", admin, Map.of("instanceType", "h100x1",
                "location", "rate-loc", "pricePerHour", "7.25", "effectiveFrom", from.toString()));
        assertThat(posted.status()).as(posted.body()).isEqualTo(201);
        assertThat(posted.json().get("source").asString()).isEqualTo("admin");
        assertThat(Instant.parse(posted.json().get("effectiveFrom").asString())).isEqualTo(from);
        Response dup = call("POST", "/admin/api/v1/rate-cards", admin, Map.of("instanceType", "h100x1",
                "location", "rate-loc", "pricePerHour", "8", "effectiveFrom", from.toString()));
        assertProblem(dup, 409);
        JsonNode rates = call("GET", "/admin/api/v1/rate-cards?instanceType=h100x1&location=rate-loc", admin, null).json();
        assertThat(rates.get("items")).hasSize(1);
        assertThat(rates.get("items").get(0).get("pricePerHour").decimalValue()).isEqualByComparingTo("7.25");
        JsonNode catalog = call("GET", "/admin/api/v1/rate-cards?instanceType=h100x1", admin, null).json();
        assertThat(catalog.toString()).contains("\"source\":\"catalog\"");

        // a VM billed for the two hours from the rate's effective time, and 30 minutes before it
        Response created = call("POST", "/api/v1/vms", token, Map.of("name", "priced", "instanceType", "h100x1",
                "location", "rate-loc-none"));
        String vm = created.json().get("id").asString();
        jdbc.sql("INSERT INTO billing_span (project_id, vm_id, resource, instance_type, location, period) "
                        + "VALUES (?::uuid, ?::uuid, 'vm', 'h100x1', 'rate-loc', tstzrange(?, ?))")
                .params(projectId, vm, java.sql.Timestamp.from(from.minusSeconds(1800)),
                        java.sql.Timestamp.from(from.plusSeconds(7200))).update();
        // 0.5 h x 2.49 (catalog) = 1.245 -> 1.25; 2 h x 7.25 = 14.50 (the month may split at midnight UTC of
        // the 1st, which changes no line amount here: each piece is whole seconds at one price)
        YearMonth month = YearMonth.from(from.atZone(ZoneOffset.UTC));
        YearMonth end = YearMonth.from(from.plusSeconds(7200).atZone(ZoneOffset.UTC));
        java.math.BigDecimal total = java.math.BigDecimal.ZERO;
        List<String> priced = new java.util.ArrayList<>();
        for (YearMonth m = YearMonth.from(from.minusSeconds(1800).atZone(ZoneOffset.UTC)); !m.isAfter(end)
                && !m.isAfter(YearMonth.now(ZoneOffset.UTC)); m = m.plusMonths(1)) {
            JsonNode inv = call("GET", "/api/v1/invoices?month=" + m, token, null).json();
            total = total.add(inv.get("total").decimalValue());
            inv.get("lines").forEach(l -> priced.add(l.get("pricePerHour").decimalValue().stripTrailingZeros().toPlainString()));
        }
        assertThat(priced).contains("2.49", "7.25");
        if (month.equals(YearMonth.from(from.minusSeconds(1800).atZone(ZoneOffset.UTC))) && month.equals(end)) {
            assertThat(total).isEqualByComparingTo("15.75");
        }
        assertThat(jdbc.sql("SELECT count(*) FROM audit_event WHERE action = 'rate-card.create' AND result = 'succeeded'")
                .query(Long.class).single()).isPositive();
    }
}
