package io.gpucloud.controlplane.console;

import static org.assertj.core.api.Assertions.assertThat;

import com.microsoft.playwright.Browser;
import com.microsoft.playwright.BrowserContext;
import com.microsoft.playwright.BrowserType;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.Playwright;
import io.gpucloud.controlplane.ControlPlaneTestBase;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/**
 * The console in a real browser: Debian's Chromium driven by Playwright against the demo fleet
 * (four simulated HGX hosts with the real worker code). Every test fails if a page logs a
 * JavaScript error or violates the content security policy.
 *
 * <p>Screenshots go to {@code target/screenshots/}; with {@code -Dconsole.screenshots.docs=true}
 * they also refresh {@code docs/screenshots/} (linked from the README).
 */
@DemoFleetContext
public abstract class ConsoleTestBase extends ControlPlaneTestBase {

    public static final String ADMIN_TOKEN = "gpc_admin_demo_test";
    public static final String PROJECT_TOKEN = "gpc_project_demo_test";
    public static final String ADMIN_EMAIL = "admin@demo.local";
    public static final String ADMIN_PASSWORD = "demo-admin-password-for-tests";
    public static final String USER_EMAIL = "owner@demo.local";
    public static final String USER_PASSWORD = "demo-owner-password-for-tests";

    static final String CHROMIUM = System.getProperty("console.chromium", "/usr/bin/chromium");
    private static final Path SHOTS = Path.of("target", "screenshots");
    private static final Path DOC_SHOTS = Path.of("..", "docs", "screenshots");

    private static Playwright playwright;
    private static Browser browser;

    protected BrowserContext context;
    protected Page page;
    private final List<String> browserErrors = Collections.synchronizedList(new ArrayList<>());
    private final List<String> expectedErrors = Collections.synchronizedList(new ArrayList<>());

    @BeforeAll
    static void launchBrowser() {
        playwright = Playwright.create(new Playwright.CreateOptions()
                .setEnv(Map.of("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")));
        browser = playwright.chromium().launch(new BrowserType.LaunchOptions()
                .setExecutablePath(Path.of(CHROMIUM))
                .setHeadless(true)
                .setArgs(List.of("--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run")));
    }

    @AfterAll
    static void closeBrowser() {
        if (browser != null) {
            browser.close();
        }
        if (playwright != null) {
            playwright.close();
        }
    }

    @BeforeEach
    void openPage() {
        context = browser.newContext(new Browser.NewContextOptions().setViewportSize(1280, 900));
        context.setDefaultTimeout(15_000);
        page = context.newPage();
        watch(page);
    }

    /** Records console errors and uncaught exceptions of {@code p}; {@link #noBrowserErrors()} fails on any. */
    protected void watch(Page p) {
        p.onConsoleMessage(m -> {
            if ("error".equals(m.type()) && expectedErrors.stream().noneMatch(m.text()::contains)) {
                browserErrors.add(p.url() + ": " + m.text());
            }
        });
        p.onPageError(e -> browserErrors.add(p.url() + ": uncaught " + e));
        // destructive actions ask "are you sure?": the tests answer yes
        p.onDialog(d -> d.accept());
    }

    /** A test that opens a page it expects to be refused says so: Chromium logs the refusal as an error. */
    protected void expectRefusal(int status) {
        expectedErrors.add("the server responded with a status of " + status);
    }

    @AfterEach
    void noBrowserErrors() {
        try {
            assertThat(browserErrors).as("JavaScript errors and CSP violations in the browser console").isEmpty();
        } finally {
            context.close();
        }
    }

    protected String url(String path) {
        return "http://127.0.0.1:" + port + path;
    }

    protected void signIn(String email, String password) {
        page.navigate(url("/login"));
        page.getByLabel("E-mail").fill(email);
        page.getByLabel("Password").fill(password);
        page.getByRole(com.microsoft.playwright.options.AriaRole.BUTTON,
                new Page.GetByRoleOptions().setName("Sign in")).click();
        page.waitForLoadState();
    }

    protected void signInAsAdmin() {
        signIn(ADMIN_EMAIL, ADMIN_PASSWORD);
        assertThat(page.url()).endsWith("/console/admin");
    }

    protected void signInAsCustomer() {
        signIn(USER_EMAIL, USER_PASSWORD);
        assertThat(page.url()).contains("/console/projects/");
    }

    /** Saves a full-page screenshot as {@code target/screenshots/<name>.png} (and docs/ when asked). */
    protected void screenshot(Page p, String name) {
        try {
            Files.createDirectories(SHOTS);
            Path file = SHOTS.resolve(name + ".png");
            p.screenshot(new Page.ScreenshotOptions().setPath(file).setFullPage(true));
            if (Boolean.getBoolean("console.screenshots.docs")) {
                Files.createDirectories(DOC_SHOTS);
                Files.copy(file, DOC_SHOTS.resolve(name + ".png"), StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Waits until the demo's four hosts are ready so pages show a full fleet. */
    protected void awaitDemoFleetReady() {
        awaitCondition(() -> jdbc.sql("SELECT count(*) FROM host WHERE state = 'ready'").query(Long.class).single() >= 4,
                "the four demo hosts to be ready");
    }
}
