package io.gpucloud.controlplane.reporting;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.benchmark.SyntheticFleet;
import io.gpucloud.controlplane.placement.PlacementService;
import io.gpucloud.controlplane.tenancy.Projects;
import io.gpucloud.placement.NumaPolicy;
import io.gpucloud.placement.PlacementRequest;
import java.io.IOException;
import java.math.BigDecimal;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.transaction.support.TransactionTemplate;
import tools.jackson.databind.JsonNode;

/**
 * The reporting views and /admin/api/v1/reports against a hand-built fleet: two HGX H100 hosts in
 * location rpt-1, one 4-GPU VM placed, one GPU of the other host suspect, and billing spans whose
 * GPU-hours and revenue are worked out below by hand.
 */
class ReportingTest extends ControlPlaneTestBase {

    private static final String H100 = "H100-SXM5-80GB";
    private static final String LOC = "rpt-1";

    @Autowired
    PlacementService placement;
    @Autowired
    Projects projects;
    @Autowired
    TransactionTemplate tx;
    @Autowired
    UtilizationSampler sampler;

    private final HttpClient http = HttpClient.newHttpClient();

    private UUID newVm(UUID project, String type, int gpus, int vcpus, long memoryMiB) {
        UUID vm = UUID.randomUUID();
        jdbc.sql("INSERT INTO vm (id, project_id, name, instance_type, gpu_model, gpu_count, vcpus, memory_mib) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
                .params(vm, project, "vm-" + vm, type, gpus == 0 ? null : H100, gpus, vcpus, memoryMiB).update();
        return vm;
    }

    private void span(UUID project, UUID vm, String type, String location, String from, String to) {
        jdbc.sql("INSERT INTO billing_span (project_id, vm_id, resource, instance_type, location, period) "
                        + "VALUES (?, ?, 'vm', ?, ?, tstzrange(?::timestamptz, ?::timestamptz))")
                .params(project, vm, type, location, from, to).update();
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

    private static JsonNode item(JsonNode items, String field, String value) {
        for (JsonNode i : items) {
            if (value.equals(i.get(field).asString())) return i;
        }
        throw new AssertionError("no item with " + field + " = " + value + " in " + items);
    }

    @Test
    void viewsAndEndpointsMatchAHandComputedFleet() {
        new SyntheticFleet(jdbc, tx).create("rpt", LOC, 2, List.of(H100));
        UUID project = projects.ensureProject("rpt-corp", "ml");

        // A 4-GPU VM with 32 vCPUs and 64 GiB (64 x 1 GiB hugepages) lands on one host: A.
        UUID big = newVm(project, "h100x4", 4, 32, 64 * 1024);
        assertThat(placement.place(new PlacementRequest(big, H100, 4, 32, 64 * 1024, LOC, Set.of(),
                NumaPolicy.REQUIRED, false, null)).placement()).isPresent();
        UUID hostA = jdbc.sql("SELECT host_id FROM vm WHERE id = ?").param(big).query(UUID.class).single();
        String nameA = jdbc.sql("SELECT name FROM host WHERE id = ?").param(hostA).query(String.class).single();
        String nameB = nameA.equals("rpt-00001") ? "rpt-00002" : "rpt-00001";
        UUID hostB = jdbc.sql("SELECT id FROM host WHERE name = ?").param(nameB).query(UUID.class).single();

        // Module 1 of host B (bus 3a) turns suspect: partitions 0 (8), 1 (4), 3 (2) and 7 (1) go unavailable.
        jdbc.sql("UPDATE pci_device SET health = 'suspect', health_reason = 'xid 79', health_changed_at = now() "
                + "WHERE host_id = ? AND kind = 'gpu' AND module_id = 1").param(hostB).update();

        // capacity: 16 GPUs, 4 held, 1 suspect; free = 4 on A + 7 on B
        Map<String, Object> cap = jdbc.sql("SELECT * FROM reporting.capacity WHERE location = ?").param(LOC)
                .query().singleRow();
        assertThat(cap).containsEntry("gpu_model", H100).containsEntry("hosts", 2).containsEntry("total_gpus", 16)
                .containsEntry("allocated_gpus", 4).containsEntry("free_gpus", 11).containsEntry("suspect_gpus", 1)
                .containsEntry("quarantined_gpus", 0).containsEntry("missing_gpus", 0)
                .containsEntry("unreachable_gpus", 0).containsEntry("unschedulable_gpus", 0);

        // free partitions per host and size
        Map<String, Integer> free = new java.util.TreeMap<>();
        jdbc.sql("SELECT host_name, gpu_count, free_partitions FROM reporting.free_partitions WHERE location = ?")
                .param(LOC).query(rs -> {
                    free.put(rs.getString(1) + "/" + rs.getInt(2), rs.getInt(3));
                });
        assertThat(free).isEqualTo(Map.of(
                nameA + "/8", 0, nameA + "/4", 1, nameA + "/2", 2, nameA + "/1", 4,
                nameB + "/8", 0, nameB + "/4", 1, nameB + "/2", 3, nameB + "/1", 7));
        Map<String, Object> aParts = jdbc.sql("SELECT * FROM reporting.free_partitions WHERE host_id = ? AND gpu_count = 4")
                .param(hostA).query().singleRow();
        assertThat(aParts).containsEntry("total_partitions", 2).containsEntry("allocated_partitions", 1)
                .containsEntry("blocked_partitions", 0).containsEntry("unavailable_partitions", 0);

        // largest placeable
        Map<String, Object> a = jdbc.sql("SELECT * FROM reporting.largest_placeable WHERE host_id = ?").param(hostA)
                .query().singleRow();
        assertThat(a).containsEntry("free_gpus", 4).containsEntry("largest_free_partition", 4)
                .containsEntry("largest_placeable_gpus", 4).containsEntry("free_vcpus", 192)
                .containsEntry("free_hugepages_1g", 1856).containsEntry("free_memory_mib", 2097152L - 65536);
        Map<String, Object> b = jdbc.sql("SELECT * FROM reporting.largest_placeable WHERE host_id = ?").param(hostB)
                .query().singleRow();
        assertThat(b).containsEntry("free_gpus", 7).containsEntry("largest_placeable_gpus", 4)
                .containsEntry("free_vcpus", 224).containsEntry("free_hugepages_1g", 1920);

        // suspect devices
        List<Map<String, Object>> suspects = jdbc.sql("SELECT * FROM reporting.suspect_devices WHERE location = ?")
                .param(LOC).query().listOfRows();
        assertThat(suspects).hasSize(1);
        assertThat(suspects.get(0)).containsEntry("host_name", nameB).containsEntry("bdf", "0000:3a:00.0")
                .containsEntry("health", "suspect").containsEntry("health_reason", "xid 79");

        // Billing. Rates (test catalog): h100x2 4.98/h, cpu4 0.16/h; h100x1 is 3.00/h in rpt-1 only
        // (2.49 elsewhere); "mystery" has no rate.
        jdbc.sql("INSERT INTO reporting.rate_card (instance_type, location, price_per_hour, effective_from) "
                + "VALUES ('h100x1', ?, 3.00, '-infinity')").param(LOC).update();
        UUID usage = projects.ensureProject("rpt-usage-corp", "train");
        UUID v1 = newVm(usage, "h100x2", 2, 8, 4096);
        UUID v2 = newVm(usage, "h100x1", 1, 8, 4096);
        UUID v3 = newVm(usage, "cpu4", 0, 4, 4096);
        UUID v4 = newVm(usage, "mystery", 1, 4, 4096);
        span(usage, v1, "h100x2", LOC, "2026-01-31T22:00:00Z", "2026-02-01T04:00:00Z"); // Jan 2h, Feb 4h
        span(usage, v2, "h100x1", LOC, "2026-02-10T00:00:00Z", "2026-02-10T10:00:00Z"); // Feb 10h
        span(usage, v3, "cpu4", LOC, "2026-02-01T00:00:00Z", "2026-02-01T05:00:00Z");   // Feb 5h
        span(usage, v4, "mystery", LOC, "2026-01-15T00:00:00Z", "2026-01-15T01:00:00Z"); // Jan 1h, unpriced
        Map<String, Map<String, Object>> byMonth = new java.util.TreeMap<>();
        jdbc.sql("SELECT * FROM reporting.tenant_usage_monthly WHERE project_id = ?").param(usage).query()
                .listOfRows().forEach(r -> byMonth.put(r.get("month").toString(), r));
        assertThat(byMonth).containsOnlyKeys("2026-01-01", "2026-02-01");
        Map<String, Object> jan = byMonth.get("2026-01-01");
        assertThat(jan).containsEntry("tenant_name", "rpt-usage-corp").containsEntry("project_name", "train")
                .containsEntry("vms", 2);
        assertThat((BigDecimal) jan.get("instance_hours")).isEqualByComparingTo("3");
        assertThat((BigDecimal) jan.get("gpu_hours")).isEqualByComparingTo("5");        // 2h x 2 + 1h x 1
        assertThat((BigDecimal) jan.get("revenue")).isEqualByComparingTo("9.96");       // 2h x 4.98
        assertThat((BigDecimal) jan.get("unpriced_instance_hours")).isEqualByComparingTo("1");
        Map<String, Object> feb = byMonth.get("2026-02-01");
        assertThat(feb).containsEntry("vms", 3);
        assertThat((BigDecimal) feb.get("instance_hours")).isEqualByComparingTo("19");
        assertThat((BigDecimal) feb.get("gpu_hours")).isEqualByComparingTo("18");       // 4h x 2 + 10h x 1
        assertThat((BigDecimal) feb.get("revenue")).isEqualByComparingTo("50.72");      // 19.92 + 30.00 + 0.80
        assertThat((BigDecimal) feb.get("unpriced_instance_hours")).isEqualByComparingTo("0");

        // utilization: two samples of 4 of 16 held
        assertThat(sampler.sample()).isPositive();
        assertThat(sampler.sample()).isPositive();
        List<Map<String, Object>> util = jdbc.sql("SELECT * FROM reporting.utilization_hourly WHERE location = ?")
                .param(LOC).query().listOfRows();
        assertThat(util.stream().mapToInt(r -> (Integer) r.get("samples")).sum()).isEqualTo(2);
        for (Map<String, Object> r : util) {
            assertThat(r).containsEntry("gpu_model", H100).containsEntry("max_allocated_gpus", 4);
            assertThat((BigDecimal) r.get("avg_total_gpus")).isEqualByComparingTo("16");
            assertThat((BigDecimal) r.get("utilization")).isEqualByComparingTo("0.25");
        }

        // The endpoints: JSON by default ...
        String admin = adminToken();
        Response capJson = call("GET", "/admin/api/v1/reports/capacity", admin, null);
        assertThat(capJson.status()).isEqualTo(200);
        assertThat(capJson.json().get("report").asString()).isEqualTo("capacity");
        assertThat(capJson.json().get("columns").get(0).asString()).isEqualTo("location");
        JsonNode capItem = item(capJson.json().get("items"), "location", LOC);
        assertThat(capItem.get("gpuModel").asString()).isEqualTo(H100);
        assertThat(capItem.get("totalGpus").asInt()).isEqualTo(16);
        assertThat(capItem.get("freeGpus").asInt()).isEqualTo(11);

        JsonNode usageItems = call("GET", "/admin/api/v1/reports/tenant-usage", admin, null).json().get("items");
        JsonNode febJson = null;
        for (JsonNode i : usageItems) {
            if (i.get("projectId").asString().equals(usage.toString()) && i.get("month").asString().equals("2026-02-01")) {
                febJson = i;
            }
        }
        assertThat(febJson).isNotNull();
        assertThat(febJson.get("revenue").decimalValue()).isEqualByComparingTo("50.72");
        assertThat(febJson.get("gpuHours").decimalValue()).isEqualByComparingTo("18");

        for (String report : List.of("free-partitions", "largest-placeable", "suspect-devices", "utilization")) {
            Response r = call("GET", "/admin/api/v1/reports/" + report, admin, null);
            assertThat(r.status()).as(report).isEqualTo(200);
            assertThat(r.json().get("items").isArray()).as(report).isTrue();
        }
        JsonNode suspectItem = item(call("GET", "/admin/api/v1/reports/suspect-devices", admin, null).json()
                .get("items"), "hostName", nameB);
        assertThat(suspectItem.get("healthReason").asString()).isEqualTo("xid 79");

        // ... CSV by Accept header or ?format=csv
        String capRow = LOC + "," + H100 + ",2,16,4,11,1,0,0,0,0";
        HttpResponse<String> byAccept = get("/admin/api/v1/reports/capacity", admin, "text/csv");
        assertThat(byAccept.statusCode()).isEqualTo(200);
        assertThat(byAccept.headers().firstValue("Content-Type").orElse("")).startsWith("text/csv");
        List<String> lines = byAccept.body().lines().toList();
        assertThat(lines.get(0)).isEqualTo("location,gpu_model,hosts,total_gpus,allocated_gpus,free_gpus,"
                + "suspect_gpus,quarantined_gpus,missing_gpus,unreachable_gpus,unschedulable_gpus");
        assertThat(lines).contains(capRow);
        HttpResponse<String> byParam = get("/admin/api/v1/reports/capacity?format=csv", admin, null);
        assertThat(byParam.headers().firstValue("Content-Type").orElse("")).startsWith("text/csv");
        assertThat(byParam.body().lines().toList()).contains(capRow);
        assertThat(get("/admin/api/v1/reports/tenant-usage?format=csv", admin, null).body().lines())
                .anyMatch(l -> l.contains(usage.toString()) && l.contains("2026-02-01") && l.endsWith(",50.72,0.0000"));

        // unknown report and format; admins only
        Response unknown = call("GET", "/admin/api/v1/reports/nope", admin, null);
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.contentType()).contains("problem+json");
        assertThat(unknown.json().get("detail").asString()).contains("capacity");
        assertThat(call("GET", "/admin/api/v1/reports/capacity?format=xml", admin, null).status()).isEqualTo(400);
        String projectToken = tokens.issueProjectToken("rpt", project).token();
        assertThat(call("GET", "/admin/api/v1/reports/capacity", projectToken, null).status()).isEqualTo(403);
        assertThat(get("/admin/api/v1/reports/capacity?format=csv", projectToken, "text/csv").statusCode())
                .isEqualTo(403);

        placement.release(big);
    }

    @Test
    void aReportWithNoRowsStillHasItsCsvHeader() {
        jdbc.sql("DELETE FROM reporting.utilization_sample").update(); // only this class samples
        HttpResponse<String> r = get("/admin/api/v1/reports/utilization?format=csv", adminToken(), null);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body().lines().findFirst().orElse(""))
                .isEqualTo("hour,location,gpu_model,samples,avg_total_gpus,avg_allocated_gpus,max_allocated_gpus,utilization");
    }
}
