package io.gpucloud.controlplane.console;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static org.assertj.core.api.Assertions.assertThat;

import com.microsoft.playwright.Page;
import com.microsoft.playwright.options.AriaRole;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** An operator sets a node's GPU virtualization mode from the node page and watches it switch. */
class VirtualizationConsoleTest extends ConsoleTestBase {

    private String hostId(String name) {
        return jdbc.sql("SELECT id FROM host WHERE name = ?").param(name).query(UUID.class).single().toString();
    }

    @Test
    void operatorSwitchesANodeToMigAndBack() {
        awaitDemoFleetReady();
        String id = hostId("demo-h200-1");
        signInAsAdmin();
        page.navigate(url("/console/admin/hosts/" + id));
        assertThat(page.locator("#virtualization-status")).hasText("Ready");

        try {
            page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Set virtualization mode")).click();
            page.locator("#virtualization-dialog select[name=mode]").selectOption("mig");
            // Cambricon modes are listed but cannot be chosen for NVIDIA GPUs
            assertThat(page.locator("#virtualization-dialog option[value=cambricon_env_share]")).hasAttribute("disabled", "disabled");
            page.locator("input[name='mig.profiles']").fill("19,19,9");
            screenshot(page, "node-virtualization-dialog");
            page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Switch")).click();

            assertThat(page.locator("#flash")).containsText("Switching to mig");
            // the header polls while switching; reload until the worker has finished in any case
            page.waitForCondition(() -> {
                if (!"Ready".equals(page.locator("#virtualization-status").textContent())) {
                    page.reload();
                }
                return "Ready".equals(page.locator("#virtualization-status").textContent())
                        && "mig".equals(page.locator("#virtualization-mode").textContent());
            }, new Page.WaitForConditionOptions().setTimeout(30_000));
            screenshot(page, "node-virtualization-mig");

            // an impossible MIG layout is refused with the reason, the node stays as it was
            page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Set virtualization mode")).click();
            page.locator("#virtualization-dialog select[name=mode]").selectOption("mig");
            page.locator("input[name='mig.profiles']").fill("0,0");
            page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Switch")).click();
            assertThat(page.locator("#flash-error")).containsText("Cannot switch");
            assertThat(page.locator("#virtualization-mode")).hasText("mig");

            page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Set virtualization mode")).click();
            page.locator("#virtualization-dialog select[name=mode]").selectOption("passthrough");
            page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Switch")).click();
            page.waitForCondition(() -> {
                if (!"Ready".equals(page.locator("#virtualization-status").textContent())) {
                    page.reload();
                }
                return "Ready".equals(page.locator("#virtualization-status").textContent())
                        && "passthrough".equals(page.locator("#virtualization-mode").textContent());
            }, new Page.WaitForConditionOptions().setTimeout(30_000));
        } finally {
            awaitCondition(() -> !"switching".equals(jdbc.sql("SELECT virtualization_status FROM host WHERE id = ?::uuid")
                    .param(id).query(String.class).single()), "switch to finish");
            assertThat(jdbc.sql("SELECT virtualization_mode FROM host WHERE id = ?::uuid").param(id)
                    .query(String.class).single()).isEqualTo("passthrough");
        }
    }
}
