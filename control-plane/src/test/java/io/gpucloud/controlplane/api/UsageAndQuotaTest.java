package io.gpucloud.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * Billing spans follow the VM workflow, usage is month to date from those spans, and quotas
 * refuse VMs beyond a project's limits. Time is "advanced" by moving span bounds in SQL.
 */
class UsageAndQuotaTest extends CustomerApiTestBase {

    // Spans are moved into last month, which is complete whatever the clock says, and read with ?month=.
    private static final java.time.YearMonth LAST_MONTH = java.time.YearMonth.now(java.time.ZoneOffset.UTC).minusMonths(1);
    private static final String MONTH_START = "TIMESTAMPTZ '" + LAST_MONTH.atDay(1) + " 00:00:00+00'";

    private String openSpans(String vmId) {
        return jdbc.sql("""
                SELECT count(*) FILTER (WHERE upper_inf(period)) || '/' || count(*)
                  FROM billing_span WHERE vm_id = ?::uuid
                """).param(vmId).query(String.class).single();
    }

    private String create(String token, String name, String type, String location) {
        var r = call("POST", "/api/v1/vms", token, Map.of("name", name, "instanceType", type, "location", location));
        assertThat(r.status()).as(r.body()).isEqualTo(201);
        return r.json().get("id").asString();
    }

    @Test
    void usageAfterAVmRanIsSecondsTimesThePriceRoundedToCents() {
        startHost("usage-host-1", "usage-1");
        String token = projectToken("usage-corp", "ml");
        String id = create(token, "train", "h100x1", "usage-1");
        awaitState(token, id, "running");
        assertThat(openSpans(id)).as("running: one open span").isEqualTo("1/1");
        assertThat(jdbc.sql("SELECT instance_type || '@' || location FROM billing_span WHERE vm_id = ?::uuid")
                .param(id).query(String.class).single()).isEqualTo("h100x1@usage-1");

        // a stopped GPU VM keeps its GPUs and stays billed: the span stays open, and starting again reuses it
        call("POST", "/api/v1/vms/" + id + "/stop", token, null);
        awaitState(token, id, "stopped");
        assertThat(openSpans(id)).isEqualTo("1/1");
        call("POST", "/api/v1/vms/" + id + "/start", token, null);
        awaitState(token, id, "running");
        assertThat(openSpans(id)).isEqualTo("1/1");

        // deleting closes it
        call("DELETE", "/api/v1/vms/" + id, token, null);
        awaitState(token, id, "deleted");
        assertThat(openSpans(id)).as("deleted: closed").isEqualTo("0/1");

        // it ran 5400.6 s, last month: 5400 whole seconds x 2.49 / 3600 = 3.735 -> 3.74
        jdbc.sql("""
                UPDATE billing_span SET period = tstzrange(%1$s + interval '3 days',
                                                           %1$s + interval '3 days' + interval '5400.6 seconds')
                 WHERE vm_id = ?::uuid
                """.formatted(MONTH_START)).param(id).update();
        assertThat(call("GET", "/api/v1/usage", token, null).json().get("vms")).as("nothing this month").isEmpty();
        JsonNode usage = call("GET", "/api/v1/usage?month=" + LAST_MONTH, token, null).json();
        assertThat(usage.get("vms")).hasSize(1);
        JsonNode vm = usage.get("vms").get(0);
        assertThat(vm.get("vmId").asString()).isEqualTo(id);
        assertThat(vm.get("name").asString()).isEqualTo("train");
        assertThat(vm.get("seconds").asLong()).isEqualTo(5400);
        assertThat(vm.get("hours").decimalValue()).isEqualByComparingTo("1.5");
        assertThat(vm.get("cost").decimalValue()).isEqualByComparingTo("3.74");
        JsonNode type = usage.get("instanceTypes").get(0);
        assertThat(type.get("instanceType").asString()).isEqualTo("h100x1");
        assertThat(type.get("seconds").asLong()).isEqualTo(5400);
        assertThat(type.get("pricePerHour").decimalValue()).isEqualByComparingTo("2.49");
        assertThat(type.get("cost").decimalValue()).isEqualByComparingTo("3.74");
        assertThat(usage.get("totalCost").decimalValue()).isEqualByComparingTo("3.74");
        assertThat(usage.get("currency").asString()).isEqualTo("USD");
    }

    @Test
    void aStoppedCpuVmIsNotBilled() {
        startHost("usage-host-2", "usage-2");
        String token = projectToken("usage-corp", "cpu");
        String id = create(token, "small", "cpu4", "usage-2");
        awaitState(token, id, "running");
        call("POST", "/api/v1/vms/" + id + "/stop", token, null);
        awaitState(token, id, "stopped");
        assertThat(openSpans(id)).as("cpu types do not keep anything while stopped").isEqualTo("0/1");
        call("POST", "/api/v1/vms/" + id + "/start", token, null);
        awaitState(token, id, "running");
        assertThat(openSpans(id)).as("a new span per run").isEqualTo("1/2");
        call("DELETE", "/api/v1/vms/" + id, token, null);
        awaitState(token, id, "deleted");
        assertThat(openSpans(id)).isEqualTo("0/2");
    }

    @Test
    void aSpanAcrossTheMonthBoundaryCountsOnlyWithinTheMonth() {
        String token = projectToken("usage-corp", "boundary");
        String id = create(token, "long-runner", "h200x1", "usage-nowhere"); // stays pending: no span of its own
        UUID project = projects.ensureProject("usage-corp", "boundary");
        // the month before: not counted; from 3 h before last month to 2000 s into it: 2000 s counted
        jdbc.sql("""
                INSERT INTO billing_span (project_id, vm_id, resource, instance_type, location, period)
                VALUES (?, ?::uuid, 'vm', 'h200x1', 'x', tstzrange(%1$s - interval '10 days', %1$s - interval '9 days')),
                       (?, ?::uuid, 'vm', 'h200x1', 'x', tstzrange(%1$s - interval '3 hours', %1$s + interval '2000 seconds'))
                """.formatted(MONTH_START)).params(project, id, project, id).update();
        JsonNode usage = call("GET", "/api/v1/usage?month=" + LAST_MONTH, token, null).json();
        JsonNode vm = usage.get("vms").get(0);
        assertThat(vm.get("seconds").asLong()).isEqualTo(2000);
        // 2000 x 3.49 / 3600 = 1.9388... -> 1.94
        assertThat(vm.get("cost").decimalValue()).isEqualByComparingTo("1.94");
        assertThat(usage.get("instanceTypes").get(0).get("cost").decimalValue()).isEqualByComparingTo("1.94");
        assertThat(usage.get("periodStart").asString()).isEqualTo(LAST_MONTH.atDay(1) + "T00:00:00Z");
        assertThat(call("GET", "/api/v1/usage?month=2999-01", token, null).status()).isEqualTo(400);
        assertThat(call("GET", "/api/v1/usage?month=last", token, null).status()).isEqualTo(400);
        call("DELETE", "/api/v1/vms/" + id, token, null);
        awaitState(token, id, "deleted");
    }

    private static Map<String, JsonNode> quotas(JsonNode list) {
        Map<String, JsonNode> byResource = new HashMap<>();
        list.get("items").forEach(q -> byResource.put(q.get("resource").asString(), q));
        return byResource;
    }

    @Test
    void exceedingAQuotaIs403WithTheNumbers() {
        String token = projectToken("quota-corp", "ml");
        UUID project = projects.ensureProject("quota-corp", "ml");
        jdbc.sql("INSERT INTO project_quota (project_id, resource, max_amount) VALUES (?, 'gpus:H100-SXM5-80GB', 2)")
                .param(project).update();
        var before = quotas(call("GET", "/api/v1/quotas", token, null).json());
        assertThat(before.get("gpus:H100-SXM5-80GB").get("limit").asInt()).isEqualTo(2);
        assertThat(before.get("gpus:H100-SXM5-80GB").get("inUse").asLong()).isZero();
        assertThat(before.get("gpus:H200-SXM-141GB").get("limit").asInt()).as("default").isEqualTo(16);
        assertThat(before.get("vcpus").get("limit").asInt()).isEqualTo(512);
        assertThat(before.get("vms").get("limit").asInt()).isEqualTo(20);

        String id = create(token, "two", "h100x2", "quota-nowhere"); // pending VMs count
        var after = quotas(call("GET", "/api/v1/quotas", token, null).json());
        assertThat(after.get("gpus:H100-SXM5-80GB").get("inUse").asLong()).isEqualTo(2);
        assertThat(after.get("vcpus").get("inUse").asLong()).as(after.toString()).isEqualTo(4); // the test catalog: h100x2 has 4 vCPUs
        assertThat(after.get("vms").get("inUse").asLong()).isEqualTo(1);

        var refused = call("POST", "/api/v1/vms", token, Map.of("name", "one-more", "instanceType", "h100x1",
                "location", "quota-nowhere"));
        assertProblem(refused, 403);
        assertThat(refused.json().get("type").asString()).endsWith("/quota-exceeded");
        assertThat(refused.json().get("resource").asString()).isEqualTo("gpus:H100-SXM5-80GB");
        assertThat(refused.json().get("limit").asInt()).isEqualTo(2);
        assertThat(refused.json().get("inUse").asLong()).isEqualTo(2);
        assertThat(refused.json().get("requested").asInt()).isEqualTo(1);
        // other models and CPU types are not held back by the H100 limit
        String cpu = create(token, "cpu", "cpu4", "quota-nowhere");

        jdbc.sql("INSERT INTO project_quota (project_id, resource, max_amount) VALUES (?, 'vms', 2)")
                .param(project).update();
        var tooMany = call("POST", "/api/v1/vms", token, Map.of("name", "third", "instanceType", "cpu4",
                "location", "quota-nowhere"));
        assertProblem(tooMany, 403);
        assertThat(tooMany.json().get("resource").asString()).isEqualTo("vms");
        assertThat(tooMany.json().get("inUse").asLong()).isEqualTo(2);

        // deleting frees the quota
        for (String vm : new String[] {id, cpu}) {
            call("DELETE", "/api/v1/vms/" + vm, token, null);
            awaitState(token, vm, "deleted");
        }
        assertThat(quotas(call("GET", "/api/v1/quotas", token, null).json()).get("vms").get("inUse").asLong())
                .isZero();
        String again = create(token, "one-more", "h100x1", "quota-nowhere");
        call("DELETE", "/api/v1/vms/" + again, token, null);
        awaitState(token, again, "deleted");
    }

    @Test
    void anotherProjectsUsageAndQuotasAreNotVisible() {
        String alice = projectToken("usage-iso-alice", "p");
        String bob = projectToken("usage-iso-bob", "p");
        UUID aliceProject = projects.ensureProject("usage-iso-alice", "p");
        String id = create(alice, "vm", "h100x4", "usage-iso-nowhere");
        jdbc.sql("""
                INSERT INTO billing_span (project_id, vm_id, resource, instance_type, location, period)
                VALUES (?, ?::uuid, 'vm', 'h100x4', 'x', tstzrange(now() - interval '60 seconds', NULL))
                """).params(aliceProject, id).update();
        jdbc.sql("INSERT INTO project_quota (project_id, resource, max_amount) VALUES (?, 'vcpus', 200)")
                .param(aliceProject).update();

        JsonNode aliceUsage = call("GET", "/api/v1/usage", alice, null).json();
        assertThat(aliceUsage.get("vms")).hasSize(1);
        assertThat(aliceUsage.get("vms").get(0).get("seconds").asLong()).isBetween(60L, 600L);
        assertThat(new BigDecimal(aliceUsage.get("totalCost").asString())).isPositive();

        JsonNode bobUsage = call("GET", "/api/v1/usage", bob, null).json();
        assertThat(bobUsage.get("vms")).isEmpty();
        assertThat(bobUsage.get("instanceTypes")).isEmpty();
        assertThat(bobUsage.get("totalCost").decimalValue()).isEqualByComparingTo("0");
        assertThat(call("GET", "/api/v1/usage", bob, null).body()).doesNotContain(id);
        var bobQuotas = quotas(call("GET", "/api/v1/quotas", bob, null).json());
        bobQuotas.values().forEach(q -> assertThat(q.get("inUse").asLong()).as(q.toString()).isZero());
        assertThat(bobQuotas.get("vcpus").get("limit").asInt()).isEqualTo(512);
        assertThat(quotas(call("GET", "/api/v1/quotas", alice, null).json()).get("vcpus").get("limit").asInt())
                .isEqualTo(200);

        call("DELETE", "/api/v1/vms/" + id, alice, null);
        awaitState(alice, id, "deleted");
    }
}
