package io.gpucloud.controlplane.console;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static org.assertj.core.api.Assertions.assertThat;

import com.microsoft.playwright.APIResponse;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.options.AriaRole;
import com.microsoft.playwright.options.FormData;
import com.microsoft.playwright.options.RequestOptions;
import io.gpucloud.controlplane.tenancy.Projects;
import io.gpucloud.controlplane.tenancy.Users;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

/** The customer's project pages: errors next to the form, viewers, other tenants, SSH keys, tokens, usage. */
class ProjectConsoleTest extends ConsoleTestBase {

    @Autowired
    private Users users;

    @Autowired
    private Projects projects;

    private String projectPath() {
        return page.url().substring(page.url().indexOf("/console/projects/"));
    }

    @Test
    void anInvalidNameIsShownNextToTheFormWhichKeepsItsValues() {
        signInAsCustomer();
        // each boot image says where a host holds it (the demo puts every image on its hosts in demo-1)
        assertThat(page.locator("select[name=bootImage] option[value='debian-12']")).containsText("· in demo-1");
        long before = jdbc.sql("SELECT count(*) FROM vm").query(Long.class).single();
        page.getByLabel("Name").fill("Bad_Name");
        page.locator("#type-h100x1").check();
        expectRefusal(400);
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Create VM")).click();
        assertThat(page.locator("#create-error")).containsText("name must be 1-63 lower-case letters");
        assertThat(page.locator("#create-vm .field-error")).containsText("lower-case letters");
        assertThat(page.getByLabel("Name")).hasValue("Bad_Name");
        assertThat(page.locator("#type-h100x1")).isChecked();
        assertThat(jdbc.sql("SELECT count(*) FROM vm").query(Long.class).single()).isEqualTo(before);

        // a key that is not a key is refused too, with its own message
        page.getByLabel("Name").fill("fine-name-" + System.nanoTime() % 100000);
        page.getByLabel("Or paste a public key").fill("ssh-ed25519 not-base64!");
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Create VM")).click();
        assertThat(page.locator("#create-error")).containsText("not valid base64");
    }

    @Test
    void aNameInUseIsAConflictShownInThePage() {
        signInAsCustomer();
        String name = "taken-" + System.nanoTime() % 1_000_000;
        var created = call("POST", "/api/v1/vms", PROJECT_TOKEN,
                "{\"name\":\"" + name + "\",\"instanceType\":\"h100x8\",\"location\":\"nowhere\"}");
        assertThat(created.status()).isEqualTo(201);
        String id = created.json().get("id").asString();
        try {
            page.reload();
            page.getByLabel("Name").fill(name);
            page.locator("#type-h100x1").check();
            expectRefusal(409);
            page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Create VM")).click();
            assertThat(page.locator("#create-error")).containsText("already exists");

            // a VM nothing can take stays pending, and the page says why
            page.navigate(url(projectPath().replaceAll("/vms$", "") + "/vms/" + id));
            assertThat(page.locator("#vm-state")).hasText("pending");
            assertThat(page.locator("#vm-reason")).containsText("capacity");
        } finally {
            call("DELETE", "/api/v1/vms/" + id, PROJECT_TOKEN, null);
            awaitVmState(ADMIN_TOKEN, id, "deleted");
        }
    }

    @Test
    void aQuotaRefusalShowsItsNumbers() {
        signInAsCustomer();
        UUID project = UUID.fromString(projectPath().substring("/console/projects/".length()));
        long inUse = jdbc.sql("SELECT count(*) FROM vm WHERE project_id = ? AND state NOT IN ('deleted', 'failed')")
                .param(project).query(Long.class).single();
        jdbc.sql("INSERT INTO project_quota (project_id, resource, max_amount) VALUES (?, 'vms', ?)")
                .params(project, (int) inUse).update();
        try {
            page.getByLabel("Name").fill("over-quota");
            page.locator("#type-cpu4").check();
            expectRefusal(403);
            page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Create VM")).click();
            assertThat(page.locator("#create-error"))
                    .containsText("quota for vms is " + inUse + "; " + inUse + " in use and 1 requested");
        } finally {
            jdbc.sql("DELETE FROM project_quota WHERE project_id = ? AND resource = 'vms'").param(project).update();
        }
    }

    @Test
    void aViewerSeesNoFormsAndItsPostsAreRefused() {
        String email = "viewer-console@demo.local";
        jdbc.sql("DELETE FROM app_user WHERE email = ?").param(email).update();
        users.create(email, "Viewer", "viewer-password-123", "viewer", "demo");
        signIn(email, "viewer-password-123");
        assertThat(page.url()).contains("/console/projects/");
        String project = projectPath();
        assertThat(page.locator("#vms")).isVisible();
        assertThat(page.locator("#create-vm")).hasCount(0);
        assertThat(page.locator("#viewer-note")).isVisible();

        String csrf = page.locator("meta[name=csrf-token]").getAttribute("content");
        long before = jdbc.sql("SELECT count(*) FROM vm").query(Long.class).single();
        APIResponse r = page.request().post(url(project + "/vms"), RequestOptions.create().setMaxRedirects(0)
                .setForm(FormData.create().set("_csrf", csrf).set("name", "viewer-vm").set("instanceType", "h100x1")));
        assertThat(r.status()).isEqualTo(403);
        assertThat(jdbc.sql("SELECT count(*) FROM vm").query(Long.class).single()).isEqualTo(before);
        assertThat(page.request().post(url(project + "/tokens"), RequestOptions.create().setMaxRedirects(0)
                .setForm(FormData.create().set("_csrf", csrf).set("name", "nope"))).status()).isEqualTo(403);

        page.navigate(url(project + "/tokens"));
        assertThat(page.locator("#tokens")).isVisible();
        assertThat(page.locator("form[action$='/tokens']")).hasCount(0);
        page.navigate(url(project + "/ssh-keys"));
        assertThat(page.locator("form[action$='/ssh-keys']")).hasCount(0);
    }

    @Test
    void anotherTenantsProjectIsNotFound() {
        UUID other = projects.ensureProject("other-tenant-console", "secret");
        signInAsCustomer();
        expectRefusal(404);
        com.microsoft.playwright.Response r = page.navigate(url("/console/projects/" + other));
        assertThat(r.status()).isEqualTo(404);
        assertThat(page.locator("h1")).hasText("Not found");
        assertThat(page.navigate(url("/console/projects/" + other + "/tokens")).status()).isEqualTo(404);
        assertThat(page.navigate(url("/console/switch-project?project=" + other)).status()).isEqualTo(404);

        UUID mine = users.projectsOf(users.findByEmail(USER_EMAIL).orElseThrow()).get(0).id();
        page.navigate(url("/console/switch-project?project=" + mine));
        assertThat(page.url()).endsWith("/console/projects/" + mine);
    }

    @Test
    void aNewTokenIsShownOnceAndCanBeRevoked() {
        signInAsCustomer();
        page.navigate(url(projectPath() + "/tokens"));
        String name = "console-token-" + System.nanoTime() % 1_000_000;
        page.getByLabel("Name").fill(name);
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Create token")).click();
        assertThat(page.locator("#new-token")).containsText("shown only this once");
        String token = page.locator("#new-token code").textContent().strip();
        assertThat(token).startsWith("gpc_");
        assertThat(call("GET", "/api/v1/vms", token, null).status()).isEqualTo(200);
        assertThat(page.locator("#tokens")).containsText(name);
        screenshot(page, "project-tokens");

        page.reload();
        assertThat(page.locator("#new-token")).hasCount(0);
        assertThat(page.content()).doesNotContain(token);

        page.locator("#tokens tr", new Page.LocatorOptions().setHasText(name))
                .getByRole(AriaRole.BUTTON, new com.microsoft.playwright.Locator.GetByRoleOptions().setName("Revoke")).click();
        assertThat(page.locator(".alert.ok")).containsText("Revoked token " + name);
        assertThat(page.locator("#tokens tr", new Page.LocatorOptions().setHasText(name)).locator(".badge")).hasText("revoked");
        assertThat(call("GET", "/api/v1/vms", token, null).status()).isEqualTo(401);
    }

    @Test
    void sshKeysAreAddedListedAndDeletedAndUsageShows() {
        signInAsCustomer();
        String project = projectPath();
        page.navigate(url(project + "/ssh-keys"));
        String name = "laptop-" + System.nanoTime() % 1_000_000;
        page.getByLabel("Name").fill(name);
        page.getByLabel("Public key").fill("ssh-rsa AAAA");
        expectRefusal(400);
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Add key")).click();
        assertThat(page.locator("#key-error")).containsText("publicKey");
        page.getByLabel("Public key").fill(ed25519Key("me@laptop"));
        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Add key")).click();
        assertThat(page.locator(".alert.ok")).containsText("Added SSH key " + name);
        assertThat(page.locator("#ssh-keys")).containsText("SHA256:");

        // the saved key is offered by the create form
        page.navigate(url(project));
        assertThat(page.locator("#create-vm")).containsText(name);

        page.navigate(url(project + "/ssh-keys"));
        page.locator("#ssh-keys tr", new Page.LocatorOptions().setHasText(name))
                .getByRole(AriaRole.BUTTON, new com.microsoft.playwright.Locator.GetByRoleOptions().setName("Delete")).click();
        assertThat(page.locator(".alert.ok")).containsText("Deleted the SSH key");
        assertThat(page.locator("#ssh-keys")).not().containsText(name);

        page.navigate(url(project + "/usage"));
        assertThat(page.locator("#usage-total")).containsText("USD");
        assertThat(page.locator("#usage-types")).isVisible();
    }
}
