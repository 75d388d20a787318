package io.gpucloud.controlplane.console;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static org.assertj.core.api.Assertions.assertThat;

import com.microsoft.playwright.BrowserContext;
import com.microsoft.playwright.Browser;
import com.microsoft.playwright.Locator;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.assertions.LocatorAssertions;
import com.microsoft.playwright.options.AriaRole;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The main journey through the VM pages: a customer creates a VM with an SSH key through the form,
 * watches it reach running without reloading, an operator reads its host-job timeline, and the
 * customer deletes it.
 */
class VmPagesTest extends ConsoleTestBase {

    private static final LocatorAssertions.HasTextOptions SLOW = new LocatorAssertions.HasTextOptions().setTimeout(90_000);

    private String createdVmId;

    /** An OpenSSH ed25519 public key with a random body (the console checks the blob's structure). */

    @AfterEach
    void deleteLeftovers() {
        if (createdVmId != null) {
            String state = jdbc.sql("SELECT state FROM vm WHERE id = ?").param(UUID.fromString(createdVmId))
                    .query(String.class).single();
            if (!state.equals("deleted")) {
                call("DELETE", "/admin/api/v1/vms/" + createdVmId, ADMIN_TOKEN, null);
                awaitVmState(ADMIN_TOKEN, createdVmId, "deleted");
            }
        }
    }

    @Test
    void customerCreatesAVmWatchesItRunOperatorSeesTheTimelineCustomerDeletesIt() {
        awaitDemoFleetReady();
        signInAsCustomer();
        String projectUrl = page.url();
        String name = "journey-" + Long.toString(System.nanoTime() % 1_000_000_000L, 36);

        // the create form: instance types with live availability and price
        Locator h100 = page.locator("#instance-types tr", new Page.LocatorOptions().setHas(page.locator("#type-h100x1")));
        assertThat(h100.locator(".availability .badge").first()).containsText(":");
        assertThat(h100).containsText("$2.49");
        page.getByLabel("Name").fill(name);
        page.locator("#type-h100x1").check();
        page.getByLabel("Or paste a public key").fill(ed25519Key("journey@test"));
        screenshot(page, "vm-create");
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Create VM")).click();

        page.waitForURL("**/vms/**");
        createdVmId = page.url().substring(page.url().lastIndexOf('/') + 1);
        assertThat(page.locator(".alert.ok")).containsText("is being created");
        page.evaluate("window.notReloaded = true");
        // htmx refreshes the state block until it settles: no reload needed
        assertThat(page.locator("#vm-state")).hasText("running", SLOW);
        assertThat(page.evaluate("window.notReloaded === true")).isEqualTo(true);
        assertThat(page.locator("#vm-live")).not().hasAttribute("hx-trigger", "every 2s");
        assertThat(page.locator("#vm-placement")).containsText("1 × H100");
        assertThat(page.locator("#vm-partition")).hasText("1 GPU");
        assertThat(page.locator("main")).containsText("journey@test");
        assertThat(page.locator("main")).not().containsText("demo-h100"); // customers never see host names
        screenshot(page, "vm-detail-customer");

        page.navigate(projectUrl);
        Locator row = page.locator("#vms tr[data-vm='" + name + "']");
        assertThat(row.locator(".badge")).hasText("running");
        screenshot(page, "project-vms");
        page.setViewportSize(390, 844);
        assertThat(page.locator("#vms")).isVisible();
        assertThat(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")).isEqualTo(true);
        screenshot(page, "project-vms-narrow");
        page.setViewportSize(1280, 900);

        // the operator, in a browser context of their own
        Browser browser = context.browser();
        BrowserContext adminContext = browser.newContext(new Browser.NewContextOptions().setViewportSize(1280, 900));
        try {
            Page admin = signedInAdmin(adminContext);

            admin.navigate(url("/console/admin/vms?q=" + name));
            Locator adminRow = admin.locator("#vms tbody tr");
            assertThat(adminRow).hasCount(1);
            assertThat(adminRow).containsText("demo / demo");
            assertThat(adminRow.locator(".badge")).hasText("running");
            assertThat(adminRow.locator("a[href^='/console/admin/hosts/']")).containsText("demo-h100");
            screenshot(admin, "admin-vms");
            admin.navigate(url("/console/admin/vms?state=running"));
            assertThat(admin.locator("#vms")).containsText(name);

            admin.navigate(url("/console/admin/vms/" + createdVmId));
            assertThat(admin.locator("#vm-state")).hasText("running");
            Locator timeline = admin.locator("#vm-timeline");
            // the create steps are one SEQUENCE job; the timeline names the sub-job of each of its steps
            Locator create = timeline.locator("li.ok", new Locator.LocatorOptions().setHas(
                    admin.locator(".job-kind", new Page.LocatorOptions().setHasText("SEQUENCE"))));
            for (String kind : List.of("RESET_GPUS", "ACTIVATE_PARTITION", "BIND_VFIO", "DEFINE_DOMAIN", "START_DOMAIN")) {
                assertThat(create.locator(".job-subkind", new Locator.LocatorOptions().setHasText(kind)).first())
                        .isVisible();
            }
            // every finished job has a duration, and its commands are shown
            assertThat(create.locator(".job-duration").first()).hasText(java.util.regex.Pattern.compile("\\d+(\\.\\d)? m?s"));
            assertThat(timeline.locator(".job-command").first()).isVisible();
            assertThat(admin.locator("#vm-placement")).containsText("NVLink partition");
            assertThat(admin.locator("#vm-placement")).containsText("Pinned CPUs");
            assertThat(admin.locator("#vm-host")).containsText("demo-h100");
            screenshot(admin, "vm-detail-admin");

            // on the node page the VM's partition is now allocated, and its GPU cards name the VM
            admin.locator("#vm-host").click();
            admin.waitForURL("**/console/admin/hosts/**");
            Integer partitionId = jdbc.sql("SELECT partition_id FROM gpu_partition WHERE vm_id = ?::uuid")
                    .param(createdVmId).query(Integer.class).single();
            Locator held = admin.locator("#partition-tree .part[data-partition='" + partitionId + "']");
            assertThat(held).hasAttribute("data-state", "allocated");
            assertThat(held).containsText(name);
            assertThat(admin.locator("#board .gpu", new Page.LocatorOptions().setHasText(name))).hasCount(1);
        } finally {
            adminContext.close();
        }

        // the customer deletes it and watches it go
        page.navigate(url(projectUrl.substring(projectUrl.indexOf("/console")) + "/vms/" + createdVmId));
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Delete")).click();
        assertThat(page.locator(".alert.ok")).containsText("Deleting " + name);
        assertThat(page.locator("#vm-state")).hasText("deleted", SLOW);
        page.navigate(projectUrl);
        assertThat(page.locator("#vms tr[data-vm='" + name + "']")).hasCount(0);

        // the delete's steps were one TEARDOWN job; the operator's timeline names each of its sub-jobs
        BrowserContext afterDelete = browser.newContext(new Browser.NewContextOptions().setViewportSize(1280, 900));
        try {
            Page admin = signedInAdmin(afterDelete);
            admin.navigate(url("/console/admin/vms/" + createdVmId));
            Locator teardown = admin.locator("#vm-timeline li.ok", new Page.LocatorOptions().setHas(
                    admin.locator(".job-kind", new Page.LocatorOptions().setHasText("TEARDOWN"))));
            assertThat(teardown).hasCount(1);
            for (String kind : List.of("STOP_DOMAIN", "UNDEFINE_DOMAIN", "DEACTIVATE_PARTITION", "REBIND_HOST_DRIVER",
                    "RESET_GPUS")) {
                assertThat(teardown.locator(".job-subkind", new Locator.LocatorOptions().setHasText(kind)).first())
                        .isVisible();
            }
        } finally {
            afterDelete.close();
        }
    }

    /** The operator, signed in through the login form in a browser context of their own. */
    private Page signedInAdmin(BrowserContext adminContext) {
        adminContext.setDefaultTimeout(15_000);
        Page admin = adminContext.newPage();
        watch(admin);
        admin.navigate(url("/login"));
        admin.getByLabel("E-mail").fill(ADMIN_EMAIL);
        admin.getByLabel("Password").fill(ADMIN_PASSWORD);
        admin.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Sign in")).click();
        admin.waitForURL("**/console/admin");
        return admin;
    }

    @Test
    void aPendingVmShowsWhyNoHostFitsRefreshesLiveAndTheOperatorDeletesIt() {
        var created = call("POST", "/api/v1/vms", PROJECT_TOKEN,
                "{\"name\":\"nowhere-" + System.nanoTime() % 1_000_000 + "\",\"instanceType\":\"h100x8\",\"location\":\"nowhere\"}");
        assertThat(created.status()).isEqualTo(201);
        createdVmId = created.json().get("id").asString();
        awaitVmState(ADMIN_TOKEN, createdVmId, "pending");
        signInAsAdmin();
        page.navigate(url("/console/admin/vms/" + createdVmId));
        assertThat(page.locator("#vm-state")).hasText("pending");
        assertThat(page.locator("#vm-live")).hasAttribute("hx-trigger", "every 2s");
        assertThat(page.locator("#vm-explanation")).containsText("Why no host fits");
        assertThat(page.locator("#vm-explanation .alert")).not().isEmpty();
        assertThat(page.locator("#vm-placement")).containsText("Not placed");
        screenshot(page, "vm-detail-admin-pending");

        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Delete")).click();
        assertThat(page.locator(".alert.ok")).hasText("Deleting the VM.");
        assertThat(page.locator("#vm-state")).hasText("deleted", SLOW);
        assertThat(page.locator("#vm-live")).not().hasAttribute("hx-trigger", "every 2s");
    }

    @Test
    void unknownVmIsANotFoundPageAndTheOperatorListFilters() {
        signInAsAdmin();
        expectRefusal(404);
        com.microsoft.playwright.Response r = page.navigate(url("/console/admin/vms/" + UUID.randomUUID()));
        assertThat(r.status()).isEqualTo(404);
        assertThat(page.locator("h1")).hasText("Not found");
        assertThat(page.navigate(url("/console/admin/vms/not-a-uuid")).status()).isEqualTo(404);

        page.navigate(url("/console/admin/vms?q=no-such-vm-anywhere"));
        assertThat(page.locator("#vms")).containsText("No VMs match.");
        assertThat(page.locator("#vm-count")).hasText("0 matching");
    }
}
