package io.gpucloud.controlplane.console;

import static org.assertj.core.api.Assertions.assertThat;

import com.microsoft.playwright.Locator;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.options.AriaRole;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.transaction.support.TransactionTemplate;

/** The operator's node list, node board (GPU cards, partition tree), drain / undrain, and the GPU list. */
class NodePagesTest extends ConsoleTestBase {

    @Autowired
    private NodeQueries nodeQueries;
    @Autowired
    private TransactionTemplate tx;

    private String hostId(String name) {
        return jdbc.sql("SELECT id::text FROM host WHERE name = ?").param(name).query(String.class).single();
    }

    private List<Integer> moduleIds(Locator part) {
        String text = part.locator(".part-modules").textContent().strip();
        return Arrays.stream(text.split("·")).map(String::strip).map(Integer::valueOf).toList();
    }

    @Test
    void nodeListFiltersAndTheBoardOfAFreeNode() throws InterruptedException {
        awaitDemoFleetReady();
        signInAsAdmin();
        page.navigate(url("/console/admin/hosts"));
        assertThat(page.locator("h1").textContent()).isEqualTo("Nodes");
        assertThat(page.locator("#hosts tbody tr[data-host^='demo-']").count()).isEqualTo(4);
        assertThat(page.locator("#hosts tbody tr[data-host='demo-h100-1'] .badge").first().textContent()).isEqualTo("ready");
        screenshot(page, "nodes");

        String h100 = jdbc.sql("SELECT gpu_model FROM host WHERE name = 'demo-h100-1'").query(String.class).single();
        page.locator("select[name=gpuModel]").selectOption(h100);
        page.waitForURL("**gpuModel=**");
        List<String> names = page.locator("#hosts tbody tr[data-host]").all().stream()
                .map(r -> r.getAttribute("data-host")).toList();
        assertThat(names).containsExactly("demo-h100-1", "demo-h100-2");

        page.locator("input[name=q]").fill("h100-2");
        page.locator("form.filters button[type=submit]").click();
        page.waitForURL("**q=h100-2**");
        assertThat(page.locator("#hosts tbody tr[data-host]").count()).isEqualTo(1);

        page.navigate(url("/console/admin/hosts?gpuModel=" + h100));
        page.getByRole(AriaRole.LINK, new Page.GetByRoleOptions().setName("demo-h100-1").setExact(true)).click();
        page.waitForURL("**/console/admin/hosts/" + hostId("demo-h100-1"));
        assertThat(page.locator("h1").textContent()).isEqualTo("demo-h100-1");
        assertThat(page.locator("#node-virtualization").textContent()).contains("passthrough");
        assertThat(page.locator("#virtualization-actions").count()).isEqualTo(1);
        // the demo puts every catalog image on each host; its worker reports them with its heartbeats
        long reportedBy = System.currentTimeMillis() + 20_000;
        while (jdbc.sql("SELECT boot_images IS NULL FROM host WHERE name = 'demo-h100-1'").query(Boolean.class).single()
                && System.currentTimeMillis() < reportedBy) {
            Thread.sleep(100);
        }
        page.reload();
        assertThat(page.locator("#node-boot-images").textContent())
                .contains("ubuntu-24.04-cuda-12.8.qcow2", "debian-12.qcow2");
        assertThat(page.locator("#node-boot-images [title='/var/lib/gpucloud/images/debian-12.qcow2']").count())
                .isEqualTo(1);

        Locator cards = page.locator("#board .gpu");
        assertThat(cards.count()).isEqualTo(8);
        List<Integer> modules = new ArrayList<>();
        for (Locator card : cards.all()) {
            modules.add(Integer.valueOf(card.locator(".gpu-module").textContent().strip()));
            assertThat(card.locator(".gpu-bdf").textContent()).matches("[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]");
            assertThat(card.locator(".gpu-vm").textContent()).contains("free");
        }
        assertThat(modules).containsExactly(1, 2, 3, 4, 5, 6, 7, 8);

        Locator parts = page.locator("#partition-tree .part");
        assertThat(parts.count()).isEqualTo(15);
        for (int[] level : new int[][] {{8, 1}, {4, 2}, {2, 4}, {1, 8}}) {
            assertThat(page.locator(".tree-level[data-size='" + level[0] + "'] .part").count())
                    .as("partitions of %d GPUs", level[0]).isEqualTo(level[1]);
        }
        assertThat(page.locator("#partition-tree .part[data-state='free']").count()).isEqualTo(15);
        assertThat(page.locator("#partition-legend").textContent()).contains("free", "allocated", "blocked", "unavailable");
        assertThat(page.locator("#numa tbody tr[data-node]").count()).isEqualTo(2);
        assertThat(page.locator("#numa meter").count()).isEqualTo(4);
        assertThat(page.locator("#pcie .pcie-switch").count()).isGreaterThan(0);
        assertThat(page.locator("#pcie").textContent()).contains("gpu");
        screenshot(page, "node-detail");

        // a phone-sized window: the same page, nothing cut off
        page.setViewportSize(390, 844);
        page.reload();
        assertThat(page.locator("#board .gpu").count()).isEqualTo(8);
        assertThat(((Number) page.evaluate("document.documentElement.scrollWidth")).intValue())
                .as("no sideways scrolling at 390 px").isLessThanOrEqualTo(390);
        screenshot(page, "node-detail-narrow");
    }

    @Test
    void aTwoGpuVmShowsAsAllocatedWithItsOverlappingPartitionsBlocked() {
        awaitDemoFleetReady();
        String location = jdbc.sql("SELECT location FROM host WHERE name = 'demo-h100-1'").query(String.class).single();
        Response created = call("POST", "/api/v1/vms", PROJECT_TOKEN,
                Map.of("name", "nodes-page-vm", "instanceType", "h100x2", "location", location));
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        String vmId = created.json().get("id").asString();
        try {
            awaitVmState(ADMIN_TOKEN, vmId, "running");
            String hostId = jdbc.sql("SELECT host_id::text FROM vm WHERE id = ?").param(UUID.fromString(vmId))
                    .query(String.class).single();

            signInAsAdmin();
            page.navigate(url("/console/admin/hosts/" + hostId));
            Locator allocated = page.locator("#partition-tree .part[data-state='allocated']")
                    .filter(new Locator.FilterOptions().setHasText("nodes-page-vm"));
            assertThat(allocated.count()).isEqualTo(1);
            assertThat(allocated.getAttribute("data-size")).isEqualTo("2");
            Set<Integer> held = new HashSet<>(moduleIds(allocated));

            int blocked = 0;
            for (Locator part : page.locator("#partition-tree .part").all()) {
                if (part.getAttribute("data-partition").equals(allocated.getAttribute("data-partition"))) {
                    continue;
                }
                boolean overlaps = moduleIds(part).stream().anyMatch(held::contains);
                if (overlaps) {
                    assertThat(part.getAttribute("data-state")).as(part.textContent()).isEqualTo("blocked");
                    assertThat(part.textContent()).contains("blocked", "nodes-page-vm");
                    blocked++;
                }
            }
            assertThat(blocked).as("the 8, the 4 around it and its two single GPUs").isEqualTo(4);

            Locator holding = page.locator("#board .gpu").filter(new Locator.FilterOptions().setHasText("nodes-page-vm"));
            assertThat(holding.count()).isEqualTo(2);
            for (Locator card : holding.all()) {
                assertThat(held).contains(Integer.valueOf(card.getAttribute("data-module")));
                assertThat(card.locator(".gpu-vm a").getAttribute("href")).isEqualTo("/console/admin/vms/" + vmId);
            }
            screenshot(page, "node-detail-allocated");

            // the GPU list shows the two held cards with the VM
            page.navigate(url("/console/admin/gpus?holding=held"));
            assertThat(page.locator("#gpus tbody tr").filter(new Locator.FilterOptions().setHasText("nodes-page-vm"))
                    .count()).isEqualTo(2);
        } finally {
            assertThat(call("DELETE", "/api/v1/vms/" + vmId, PROJECT_TOKEN, null).status()).isEqualTo(202);
            awaitVmState(ADMIN_TOKEN, vmId, "deleted");
        }
    }

    @Test
    void drainAndUndrainFromTheNodePage() {
        awaitDemoFleetReady();
        String id = hostId("demo-b200-1");
        signInAsAdmin();
        try {
            page.navigate(url("/console/admin/hosts/" + id));
            assertThat(page.locator("#node-state").textContent()).isEqualTo("ready");
            page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Drain").setExact(true)).click();
            page.waitForLoadState();
            assertThat(page.locator("#node-state").textContent()).isEqualTo("draining");
            assertThat(page.locator("#flash").textContent()).contains("Draining");
            assertThat(jdbc.sql("SELECT state FROM host WHERE id = ?::uuid").param(id).query(String.class).single())
                    .isEqualTo("draining");
            page.navigate(url("/console/admin/hosts?state=draining"));
            assertThat(page.locator("#hosts tbody tr[data-host='demo-b200-1']").count()).isEqualTo(1);

            page.navigate(url("/console/admin/hosts/" + id));
            page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Undrain").setExact(true)).click();
            page.waitForLoadState();
            assertThat(page.locator("#node-state").textContent()).isEqualTo("ready");
            assertThat(jdbc.sql("SELECT count(*) FROM audit_event WHERE action IN ('host.drain', 'host.undrain') "
                    + "AND target_id = ? AND actor LIKE '%console:" + ADMIN_EMAIL + "%'").param(id)
                    .query(Long.class).single()).isGreaterThanOrEqualTo(2);
        } finally {
            jdbc.sql("UPDATE host SET state = 'ready', state_reason = NULL WHERE id = ?::uuid AND state = 'draining'")
                    .param(id).update();
        }
    }

    @Test
    void aQuarantinedGpuIsReturnedToServiceFromItsCard() {
        awaitDemoFleetReady();
        String id = hostId("demo-b200-1");
        String bdf = jdbc.sql("SELECT max(bdf) FROM pci_device WHERE host_id = ?::uuid AND kind = 'gpu' "
                + "AND vm_id IS NULL AND health = 'ok'").param(id).query(String.class).single();
        // as a failed teardown leaves it (VmProg.quarantine)
        jdbc.sql("UPDATE pci_device SET health = 'quarantined', health_reason = 'teardown of VM x failed' "
                + "WHERE host_id = ?::uuid AND bdf = ?").params(id, bdf).update();
        signInAsAdmin();
        try {
            page.navigate(url("/console/admin/hosts/" + id));
            Locator card = page.locator("#board article.gpu[data-bdf='" + bdf + "']");
            assertThat(card.locator(".badge").textContent()).isEqualTo("quarantined");
            assertThat(page.locator("#board form.return-to-service").count()).as("only the quarantined card")
                    .isEqualTo(1);
            card.locator("input[name=reason]").fill("reseated; dcgmi diag -r 3 passed");
            card.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Return to service")).click();
            page.waitForLoadState();
            assertThat(page.locator("#flash").textContent()).contains("back in service");
            assertThat(page.locator("#board article.gpu[data-bdf='" + bdf + "'] .badge").textContent())
                    .isEqualTo("ok");
            assertThat(jdbc.sql("SELECT health_reason FROM pci_device WHERE host_id = ?::uuid AND bdf = ?")
                    .params(id, bdf).query(String.class).single())
                    .isEqualTo("returned to service (was quarantined): reseated; dcgmi diag -r 3 passed");
            assertThat(jdbc.sql("SELECT count(*) FROM audit_event WHERE action = 'device.return-to-service' "
                    + "AND target_id = ? AND result = 'succeeded' AND actor LIKE '%console:" + ADMIN_EMAIL + "%'")
                    .param(id).query(Long.class).single()).isEqualTo(1);
        } finally {
            jdbc.sql("UPDATE pci_device SET health = 'ok', health_reason = NULL WHERE host_id = ?::uuid AND bdf = ?")
                    .params(id, bdf).update();
        }
    }

    @Test
    void whileTheModeIsSwitchingTheHeaderRefreshesItself() {
        awaitDemoFleetReady();
        String id = hostId("demo-b200-1");
        signInAsAdmin();
        try {
            jdbc.sql("UPDATE host SET virtualization_status = 'switching', virtualization_reason = 'test: switching' "
                    + "WHERE id = ?::uuid").param(id).update();
            page.navigate(url("/console/admin/hosts/" + id));
            assertThat(page.locator("#node-header").getAttribute("hx-trigger")).isEqualTo("every 2s");
            assertThat(page.locator("#virtualization-status").textContent()).isEqualTo("Switching");
            assertThat(page.locator("#virtualization-reason").textContent()).isEqualTo("test: switching");

            jdbc.sql("UPDATE host SET virtualization_status = 'ready', virtualization_reason = NULL WHERE id = ?::uuid")
                    .param(id).update();
            page.waitForCondition(() -> "Ready".equals(page.locator("#virtualization-status").textContent()),
                    new Page.WaitForConditionOptions().setTimeout(10_000));
            assertThat(page.locator("#node-header").getAttribute("hx-trigger")).as("polling stops").isNull();
            assertThat(page.locator("#board .gpu").count()).as("the rest of the page stays").isEqualTo(8);
        } finally {
            jdbc.sql("UPDATE host SET virtualization_status = 'ready', virtualization_reason = NULL WHERE id = ?::uuid")
                    .param(id).update();
        }
    }

    @Test
    void gpuListFilters() {
        awaitDemoFleetReady();
        signInAsAdmin();
        page.navigate(url("/console/admin/gpus"));
        assertThat(page.locator("h1").textContent()).isEqualTo("GPUs");
        assertThat(page.locator("#gpus tbody tr[data-state]").count()).isGreaterThanOrEqualTo(32);
        screenshot(page, "gpus");

        String h200 = jdbc.sql("""
                SELECT DISTINCT coalesce(d.model, h.gpu_model) FROM pci_device d JOIN host h ON h.id = d.host_id
                 WHERE h.name = 'demo-h200-1' AND d.kind = 'gpu'
                """).query(String.class).single();
        page.locator("select[name=model]").selectOption(h200);
        page.waitForURL("**model=**");
        assertThat(page.locator("#gpus tbody tr[data-state]").count()).isEqualTo(8);
        assertThat(page.locator("#gpus-count").textContent()).isEqualTo("8 GPUs");

        page.navigate(url("/console/admin/gpus?host=demo-h100&holding=free&health=ok"));
        assertThat(page.locator("#gpus tbody tr[data-state='free']").count()).isEqualTo(16);
        assertThat(page.locator("#gpus tbody tr[data-state]").count()).isEqualTo(16);

        page.navigate(url("/console/admin/gpus?health=quarantined"));
        assertThat(page.locator("#gpus .empty").textContent()).contains("No GPUs");
    }

    @Test
    void unknownNodeIsA404() {
        signInAsAdmin();
        expectRefusal(404);
        com.microsoft.playwright.Response r = page.navigate(url("/console/admin/hosts/" + UUID.randomUUID()));
        assertThat(r.status()).isEqualTo(404);
        assertThat(page.locator("h1").textContent()).isEqualTo("Not found");
        assertThat(page.navigate(url("/console/admin/hosts/not-a-uuid")).status()).isEqualTo(404);
    }

    /** 1,000 hosts with 8,000 GPUs (rolled back afterwards): a page of either list is one quick query. */
    @Test
    void listsStayFastWithAThousandHosts() {
        tx.executeWithoutResult(status -> {
            jdbc.sql("""
                    INSERT INTO host (id, name, location, state, platform, gpu_model, fabric_mode, last_heartbeat_at)
                    SELECT gen_random_uuid(), 'perf-' || lpad(i::text, 4, '0'), 'perf-' || (i % 5), 'ready',
                           'HGX_H100_8', 'PERF-GPU', 'SHARED_NVSWITCH', now()
                      FROM generate_series(1, 1000) i
                    """).update();
            jdbc.sql("""
                    INSERT INTO pci_device (host_id, bdf, vendor_id, device_id, class_code, kind, model, module_id, health)
                    SELECT h.id, '0000:' || lpad(to_hex(m * 16), 2, '0') || ':00.0', '10de', '2330', '0302', 'gpu',
                           'PERF-GPU', m, CASE WHEN m = 8 THEN 'suspect' ELSE 'ok' END
                      FROM host h CROSS JOIN generate_series(1, 8) m WHERE h.name LIKE 'perf-%'
                    """).update();
            jdbc.sql("ANALYZE host").update();
            jdbc.sql("ANALYZE pci_device").update();

            // warm up, then time
            nodeQueries.hosts(new NodeQueries.HostFilter(null, null, null, null), 1);
            nodeQueries.gpus(new NodeQueries.GpuFilter(null, null, null, null), 1);
            long t0 = System.nanoTime();
            var hosts = nodeQueries.hosts(new NodeQueries.HostFilter(null, "PERF-GPU", null, null), 7);
            var searched = nodeQueries.hosts(new NodeQueries.HostFilter("ready", null, null, "perf-09"), 1);
            var gpus = nodeQueries.gpus(new NodeQueries.GpuFilter("PERF-GPU", null, "free", null), 100);
            var healthy = nodeQueries.gpus(new NodeQueries.GpuFilter(null, "suspect", null, "perf-0"), 2);
            long ms = (System.nanoTime() - t0) / 1_000_000;

            assertThat(hosts.total()).isEqualTo(1000);
            assertThat(hosts.items()).hasSize(50);
            assertThat(hosts.items().get(0).name()).isEqualTo("perf-0301");
            assertThat(hosts.items().get(0).gpuCount()).isEqualTo(8);
            assertThat(hosts.items().get(0).freeGpus()).isEqualTo(7);
            assertThat(hosts.pages()).isEqualTo(20);
            assertThat(searched.total()).isEqualTo(100);
            assertThat(gpus.total()).isEqualTo(7000);
            assertThat(gpus.items()).hasSize(50);
            assertThat(healthy.total()).isEqualTo(999);
            assertThat(ms).as("four list pages over 1,000 hosts / 8,000 GPUs, in ms").isLessThan(1500);
            status.setRollbackOnly();
        });
    }
}
