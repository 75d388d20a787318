package io.gpucloud.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * Monthly invoices (reporting.invoice_line, /api/v1/invoices, /admin/api/v1/invoices) against
 * hand-computed expectations. Spans are written in SQL into last month (complete whatever the clock
 * says) for VMs that never get a host; the mid-month rate change is a location-specific rate_card row
 * for a location of this test only, so other tests' prices do not move.
 */
class InvoiceTest extends CustomerApiTestBase {

    private static final YearMonth M = YearMonth.now(ZoneOffset.UTC).minusMonths(1);
    private static final String S = "TIMESTAMPTZ '" + M.atDay(1) + " 00:00:00+00'";

    private final HttpClient http = HttpClient.newHttpClient();

    private String create(String token, String name, String type) {
        var r = call("POST", "/api/v1/vms", token, Map.of("name", name, "instanceType", type,
                "location", "inv-nowhere"));
        assertThat(r.status()).as(r.body()).isEqualTo(201);
        return r.json().get("id").asString();
    }

    private void span(UUID project, String vm, String type, String location, String from, String to) {
        jdbc.sql(("INSERT INTO billing_span (project_id, vm_id, resource, instance_type, location, period) "
                        + "VALUES (?, ?::uuid, 'vm', ?, ?, tstzrange(%s, %s))").formatted(from, to))
                .params(project, vm, type, location).update();
    }

    private HttpResponse<String> get(String path, String bearer, String accept) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).GET()
                    .header("Authorization", "Bearer " + bearer);
            if (accept != null) b.header("Accept", accept);
            return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String line(JsonNode l) {
        return l.get("instanceType").asString() + "@" + l.get("location").asString() + " "
                + l.get("pricePerHour").decimalValue().stripTrailingZeros().toPlainString() + "/h "
                + l.get("seconds").asLong() + "s " + l.get("hours").decimalValue().stripTrailingZeros().toPlainString()
                + "h " + l.get("amount").decimalValue().setScale(2, java.math.RoundingMode.HALF_UP).toPlainString();
    }

    @Test
    void invoicesSplitAtMonthBoundariesAndRateChangesIncludeDeletedVmsAndStayInTheirProject() {
        String alice = projectToken("inv-alice", "p");
        String bob = projectToken("inv-bob", "p");
        UUID aliceProject = projects.ensureProject("inv-alice", "p");
        UUID bobProject = projects.ensureProject("inv-bob", "p");

        // across the boundary into M: 5 h the month before, 10 h in M; h200x1 at 3.49
        String across = create(alice, "across", "h200x1");
        span(aliceProject, across, "h200x1", "inv-x", S + " - interval '5 hours'", S + " + interval '10 hours'");
        // a rate change on day 11 of M for h100x1 in inv-mid: 2.49 (catalog) before, 3.00 from then on
        jdbc.sql("INSERT INTO reporting.rate_card (instance_type, location, price_per_hour, effective_from) "
                + "VALUES ('h100x1', 'inv-mid', 3.00, " + S + " + interval '10 days')").update();
        String repriced = create(alice, "repriced", "h100x1");
        span(aliceProject, repriced, "h100x1", "inv-mid", S + " + interval '10 days' - interval '2 hours'",
                S + " + interval '10 days' + interval '10800.5 seconds'");
        // deleted on day 21 after 30 minutes: h100x2 at 4.98
        String gone = create(alice, "gone", "h100x2");
        call("DELETE", "/api/v1/vms/" + gone, alice, null);
        awaitState(alice, gone, "deleted");
        span(aliceProject, gone, "h100x2", "inv-x", S + " + interval '20 days'",
                S + " + interval '20 days' + interval '1800 seconds'");
        // bob: one hour of h100x1 in inv-bob
        String bobs = create(bob, "bobs", "h100x1");
        span(bobProject, bobs, "h100x1", "inv-bob", S + " + interval '1 day'", S + " + interval '1 day 1 hour'");

        JsonNode inv = call("GET", "/api/v1/invoices?month=" + M, alice, null).json();
        assertThat(inv.get("month").asString()).isEqualTo(M.toString());
        assertThat(inv.get("periodStart").asString()).isEqualTo(M.atDay(1) + "T00:00:00Z");
        assertThat(inv.get("currency").asString()).isEqualTo("USD");
        List<String> lines = new java.util.ArrayList<>();
        inv.get("lines").forEach(l -> lines.add(line(l)));
        assertThat(lines).containsExactly(
                "h100x1@inv-mid 2.49/h 7200s 2h 4.98",     // 2 h x 2.49
                "h100x1@inv-mid 3/h 10800s 3h 9.00",       // 10800.5 s -> 10800 s x 3.00 / 3600
                "h100x2@inv-x 4.98/h 1800s 0.5h 2.49",     // deleted after 30 min
                "h200x1@inv-x 3.49/h 36000s 10h 34.90");   // only the 10 h inside M
        assertThat(inv.get("lines").get(1).get("rateEffectiveFrom").asString())
                .isEqualTo(M.atDay(11) + "T00:00:00Z");
        assertThat(inv.get("subtotal").decimalValue()).isEqualByComparingTo("51.37");
        assertThat(inv.get("total").decimalValue()).isEqualByComparingTo("51.37");
        assertThat(inv.toString()).doesNotContain("inv-bob");

        // the month before has the other 5 h of the boundary VM: 5 x 3.49 = 17.45
        JsonNode before = call("GET", "/api/v1/invoices?month=" + M.minusMonths(1), alice, null).json();
        assertThat(before.get("lines")).hasSize(1);
        assertThat(line(before.get("lines").get(0))).isEqualTo("h200x1@inv-x 3.49/h 18000s 5h 17.45");

        // usage agrees with the invoice
        JsonNode usage = call("GET", "/api/v1/usage?month=" + M, alice, null).json();
        assertThat(usage.get("totalCost").decimalValue()).isEqualByComparingTo("51.37");
        JsonNode h100 = usage.get("instanceTypes").get(0);
        assertThat(h100.get("instanceType").asString()).isEqualTo("h100x1");
        assertThat(h100.get("seconds").asLong()).isEqualTo(18000);
        assertThat(h100.get("cost").decimalValue()).isEqualByComparingTo("13.98");
        assertThat(h100.get("pricePerHour").decimalValue()).isEqualByComparingTo("3.00");
        JsonNode repricedUsage = null;
        for (JsonNode v : usage.get("vms")) if (v.get("vmId").asString().equals(repriced)) repricedUsage = v;
        assertThat(repricedUsage).isNotNull();
        assertThat(repricedUsage.get("seconds").asLong()).isEqualTo(18000);
        assertThat(repricedUsage.get("cost").decimalValue()).isEqualByComparingTo("13.98");
        assertThat(usage.get("vms")).hasSize(3);

        // bob sees only his own line
        JsonNode bobInv = call("GET", "/api/v1/invoices?month=" + M, bob, null).json();
        assertThat(bobInv.get("lines")).hasSize(1);
        assertThat(line(bobInv.get("lines").get(0))).isEqualTo("h100x1@inv-bob 2.49/h 3600s 1h 2.49");
        assertThat(bobInv.get("total").decimalValue()).isEqualByComparingTo("2.49");
        assertThat(bobInv.toString()).doesNotContain("inv-mid").doesNotContain(aliceProject.toString());
        assertThat(get("/api/v1/invoices?month=" + M + "&format=csv", bob, null).body())
                .doesNotContain("inv-alice").doesNotContain("inv-mid");

        // CSV, by Accept and by ?format=csv
        HttpResponse<String> csv = get("/api/v1/invoices?month=" + M, alice, "text/csv");
        assertThat(csv.statusCode()).isEqualTo(200);
        assertThat(csv.headers().firstValue("Content-Type").orElse("")).startsWith("text/csv");
        List<String> rows = csv.body().lines().toList();
        assertThat(rows.get(0)).isEqualTo("tenant_name,project_id,project_name,month,instance_type,location,"
                + "price_per_hour,rate_effective_from,period_start,period_end,vms,seconds,hours,amount");
        assertThat(rows).hasSize(5);
        assertThat(rows.get(2).replace("\"", "")).startsWith("inv-alice," + aliceProject + ",p," + M + ",h100x1,inv-mid,3.0000,"
                + M.atDay(11) + "T00:00:00Z,").endsWith(",1,10800,3.0000,9.00");
        assertThat(get("/api/v1/invoices?month=" + M + "&format=csv", alice, null).body()).isEqualTo(csv.body());

        // admin: every project
        String admin = adminToken();
        JsonNode all = call("GET", "/admin/api/v1/invoices?month=" + M, admin, null).json();
        Map<String, String> totals = new java.util.HashMap<>();
        all.get("invoices").forEach(i -> totals.put(i.get("tenantName").asString(), i.get("total").asString()));
        assertThat(new java.math.BigDecimal(totals.get("inv-alice"))).isEqualByComparingTo("51.37");
        assertThat(new java.math.BigDecimal(totals.get("inv-bob"))).isEqualByComparingTo("2.49");
        String adminCsv = get("/admin/api/v1/invoices?month=" + M + "&format=csv", admin, null).body();
        assertThat(adminCsv).contains("inv-alice,").contains("inv-bob,");
        assertThat(call("GET", "/admin/api/v1/invoices", alice, null).status()).isEqualTo(403);

        // current month: nothing yet; bad input
        assertThat(call("GET", "/api/v1/invoices", alice, null).json().get("lines")).isEmpty();
        assertThat(call("GET", "/api/v1/invoices?month=2999-01", alice, null).status()).isEqualTo(400);
        assertThat(call("GET", "/api/v1/invoices?month=last", alice, null).status()).isEqualTo(400);
        assertThat(call("GET", "/api/v1/invoices?format=xml", alice, null).status()).isEqualTo(400);

        for (var vm : List.of(Map.entry(alice, across), Map.entry(alice, repriced), Map.entry(bob, bobs))) {
            call("DELETE", "/api/v1/vms/" + vm.getValue(), vm.getKey(), null);
            awaitState(vm.getKey(), vm.getValue(), "deleted");
        }
    }
}
