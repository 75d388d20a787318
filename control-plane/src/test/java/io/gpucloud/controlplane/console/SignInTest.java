package io.gpucloud.controlplane.console;

import static org.assertj.core.api.Assertions.assertThat;

import com.microsoft.playwright.Page;
import com.microsoft.playwright.options.AriaRole;
import com.microsoft.playwright.options.FormData;
import com.microsoft.playwright.options.RequestOptions;
import io.gpucloud.controlplane.tenancy.Users;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

/** Sign-in, sign-out, wrong passwords, lockout, and a customer trying an operator page. */
class SignInTest extends ConsoleTestBase {

    @Test
    void adminSignsInSeesTheDashboardAndSignsOut() {
        awaitDemoFleetReady();
        signInAsAdmin();
        assertThat(page.locator("h1").textContent()).isEqualTo("Fleet");
        // the capacity table shows the demo fleet's three GPU models with 8 GPUs per host
        assertThat(page.locator("#capacity tbody tr").count()).isEqualTo(3);
        assertThat(page.locator("#capacity").textContent()).contains("H100", "H200", "B200");
        assertThat(page.locator("svg.chart polyline.series").count()).as("no samples yet: no line").isZero();

        // a day of utilization samples (what the sampler would have written) draws the chart
        try {
            jdbc.sql("""
                    INSERT INTO reporting.utilization_sample (sampled_at, location, gpu_model, total, allocated)
                    SELECT date_trunc('minute', now()) - make_interval(hours => h), 'test-chart', 'H100-SXM5-80GB',
                           16, (8 + 6 * sin(h / 4.0))::integer
                      FROM generate_series(1, 23) AS h
                    """).update();
            page.reload();
            assertThat(page.locator("svg.chart polyline.series").getAttribute("points").split(" ")).hasSize(23);
            assertThat(page.locator("#dashboard").textContent()).contains("Latest");
            screenshot(page, "dashboard");
        } finally {
            jdbc.sql("DELETE FROM reporting.utilization_sample WHERE location = 'test-chart'").update();
        }

        page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Sign out")).click();
        page.waitForURL("**/login?signedOut");
        com.microsoft.playwright.Response again = page.navigate(url("/console/admin"));
        assertThat(page.url()).as("signed out: back to the sign-in page").endsWith("/login");
        assertThat(again.status()).isEqualTo(200);
    }

    @Test
    void wrongPasswordIsRefusedWithAClearMessage() {
        signIn(ADMIN_EMAIL, "not-the-password");
        assertThat(page.url()).endsWith("/login?error");
        assertThat(page.getByRole(AriaRole.ALERT).textContent()).contains("Wrong e-mail or password");
        screenshot(page, "sign-in-failed");

        signIn("nobody@demo.local", "whatever-password");
        assertThat(page.url()).endsWith("/login?error");
    }

    @Test
    void repeatedWrongPasswordsLockTheAccountForAWhile() {
        String email = "lockme@demo.local";
        jdbc.sql("DELETE FROM app_user WHERE email = ?").param(email).update();
        users().create(email, "Lock me", "the-right-password-1", "member", "demo");
        for (int i = 0; i < 10; i++) {
            signIn(email, "wrong-password-" + i);
        }
        signIn(email, "the-right-password-1");
        assertThat(page.url()).as("the right password is refused while locked").endsWith("/login?locked");
        assertThat(page.getByRole(AriaRole.ALERT).textContent()).contains("Too many wrong passwords");

        jdbc.sql("UPDATE app_user SET locked_until = now() - interval '1 second' WHERE email = ?").param(email).update();
        signIn(email, "the-right-password-1");
        assertThat(page.url()).contains("/console/projects/");
    }

    @Test
    void aUserDisabledWhileSignedInIsSignedOutAtTheNextRequest() {
        Users.User pageUser = freshUser("disable-page@demo.local");
        Users.User htmxUser = freshUser("disable-htmx@demo.local");

        // an htmx request (a live-updating fragment) gets the whole page sent to the sign-in form
        signIn(htmxUser.email(), "the-right-password-2");
        assertThat(page.url()).contains("/console/projects/");
        users().disable(htmxUser.id());
        com.microsoft.playwright.APIResponse fragment = page.request().get(url("/console"),
                RequestOptions.create().setHeader("HX-Request", "true").setMaxRedirects(0));
        assertThat(fragment.status()).isEqualTo(401);
        assertThat(fragment.headers().get("hx-redirect")).endsWith("/login?disabled");

        // a page request lands on the sign-in form with the reason, and the session is gone for good
        context.clearCookies();
        signIn(pageUser.email(), "the-right-password-2");
        assertThat(page.url()).contains("/console/projects/");
        String project = page.url();
        users().disable(pageUser.id());
        page.reload();
        assertThat(page.url()).endsWith("/login?disabled");
        assertThat(page.getByRole(AriaRole.ALERT).textContent()).contains("Your account was disabled");
        page.navigate(project);
        assertThat(page.url()).as("no way back in with the old session").endsWith("/login");
        signIn(pageUser.email(), "the-right-password-2");
        assertThat(page.url()).as("nor with the password").endsWith("/login?error");
    }

    private Users.User freshUser(String email) {
        jdbc.sql("DELETE FROM app_user WHERE email = ?").param(email).update();
        return users().create(email, "Disable me", "the-right-password-2", "member", "demo");
    }

    @Test
    void customerIsDeniedOperatorPages() {
        signInAsCustomer();
        expectRefusal(403);
        com.microsoft.playwright.Response r = page.navigate(url("/console/admin"));
        assertThat(r.status()).isEqualTo(403);
        assertThat(page.locator("h1").textContent()).isEqualTo("Not allowed");
        screenshot(page, "denied");
        assertThat(page.navigate(url("/console/admin/hosts")).status()).isEqualTo(403);
    }

    @Test
    void passwordsAreStoredAsArgon2idHashes() {
        String hash = jdbc.sql("SELECT password_hash FROM app_user WHERE email = ?").param(ADMIN_EMAIL)
                .query(String.class).single();
        assertThat(hash).startsWith("{argon2}$argon2id$").doesNotContain(ADMIN_PASSWORD);
    }

    @Test
    void formsWithoutTheCsrfTokenAreRefused() {
        var response = page.request().post(url("/login"), RequestOptions.create()
                .setForm(FormData.create().set("email", ADMIN_EMAIL).set("password", ADMIN_PASSWORD))
                .setMaxRedirects(0));
        assertThat(response.status()).isEqualTo(403);
    }

    @Autowired
    private Users usersService;

    private Users users() {
        return usersService;
    }
}
