package io.gpucloud.controlplane.console;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.test.context.ActiveProfiles;
import org.springframework.test.context.TestPropertySource;

/**
 * The demo fleet with known tokens and passwords. Every test class that wants the demo uses this
 * one configuration, so they all share one Spring context (and one set of simulated hosts).
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Inherited
@ActiveProfiles({"test", "demo"})
@TestPropertySource(properties = {
        "DEMO_ADMIN_TOKEN=" + ConsoleTestBase.ADMIN_TOKEN,
        "DEMO_PROJECT_TOKEN=" + ConsoleTestBase.PROJECT_TOKEN,
        "DEMO_ADMIN_PASSWORD=" + ConsoleTestBase.ADMIN_PASSWORD,
        "DEMO_USER_PASSWORD=" + ConsoleTestBase.USER_PASSWORD})
public @interface DemoFleetContext {
}
