package io.gpucloud.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * reporting.tenant_usage_monthly and the invoice price a mid-month rate change the same way: each
 * piece of a span at the rate in force during it. Spans are written in SQL into last month (complete
 * whatever the clock says), in a location of this test only so that other tests' prices do not move.
 */
class TenantUsageMatchesInvoiceTest extends CustomerApiTestBase {

    private static final YearMonth M = YearMonth.now(ZoneOffset.UTC).minusMonths(1);
    private static final String S = "TIMESTAMPTZ '" + M.atDay(1) + " 00:00:00+00'";

    private void span(UUID project, String vm, String type, String from, String to) {
        jdbc.sql(("INSERT INTO billing_span (project_id, vm_id, resource, instance_type, location, period) "
                        + "VALUES (?, ?::uuid, 'vm', ?, 'tui-mid', tstzrange(%s, %s))").formatted(from, to))
                .params(project, vm, type).update();
    }

    @Test
    void aRateChangeMidMonthIsPricedPieceByPieceInTheReportAsOnTheInvoice() {
        String token = projectToken("tui-corp", "p");
        UUID project = projects.ensureProject("tui-corp", "p");
        // h100x1 costs 2.49 (catalog) until day 16 of M, 4.00 in tui-mid from then on
        jdbc.sql("INSERT INTO reporting.rate_card (instance_type, location, price_per_hour, effective_from) "
                + "VALUES ('h100x1', 'tui-mid', 4.00, " + S + " + interval '15 days')").update();
        var created = call("POST", "/api/v1/vms", token, Map.of("name", "across-the-change", "instanceType", "h100x1",
                "location", "tui-nowhere"));
        String vm = created.json().get("id").asString();
        var other = call("POST", "/api/v1/vms", token, Map.of("name", "after-the-change", "instanceType", "h100x2",
                "location", "tui-nowhere"));
        String vm2 = other.json().get("id").asString();
        // 3 h before the change and 5 h after it
        span(project, vm, "h100x1", S + " + interval '15 days' - interval '3 hours'", S + " + interval '15 days 5 hours'");
        // h100x2 (4.98, no location rate) for 1.5 h on day 20
        span(project, vm2, "h100x2", S + " + interval '19 days'", S + " + interval '19 days 90 minutes'");

        // by hand: 3 h x 2.49 = 7.47; 5 h x 4.00 = 20.00; 1.5 h x 4.98 = 7.47 -> 34.94
        // (the V5 report priced the whole 8 h span at 2.49, its rate at the start: 19.92 + 7.47 = 27.39)
        Map<String, Object> report = jdbc.sql("""
                SELECT * FROM reporting.tenant_usage_monthly WHERE project_id = ? AND month = CAST(? AS date)
                """).params(project, M.atDay(1)).query().singleRow();
        assertThat((BigDecimal) report.get("revenue")).isEqualByComparingTo("34.94");
        assertThat((BigDecimal) report.get("instance_hours")).isEqualByComparingTo("9.5");
        assertThat((BigDecimal) report.get("gpu_hours")).isEqualByComparingTo("11");   // 8 x 1 + 1.5 x 2
        assertThat(report).containsEntry("vms", 2).containsEntry("tenant_name", "tui-corp");

        JsonNode invoice = call("GET", "/api/v1/invoices?month=" + M, token, null).json();
        assertThat(invoice.get("total").decimalValue()).isEqualByComparingTo("34.94");
        assertThat(invoice.get("lines")).hasSize(3);

        // and the admin report endpoint says the same
        JsonNode items = call("GET", "/admin/api/v1/reports/tenant-usage", adminToken(), null).json().get("items");
        BigDecimal viaApi = null;
        for (JsonNode i : items) {
            if (i.get("projectId").asString().equals(project.toString()) && i.get("month").asString().equals(M.atDay(1).toString())) {
                viaApi = i.get("revenue").decimalValue();
            }
        }
        assertThat(viaApi).isEqualByComparingTo(invoice.get("total").decimalValue());
    }
}
