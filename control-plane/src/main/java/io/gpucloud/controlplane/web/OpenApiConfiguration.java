package io.gpucloud.controlplane.web;

import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.info.License;
import io.swagger.v3.oas.models.security.SecurityRequirement;
import io.swagger.v3.oas.models.security.SecurityScheme;
import io.swagger.v3.oas.models.servers.Server;
import org.springdoc.core.customizers.OperationCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The OpenAPI document at /v3/api-docs (browsable at /swagger-ui/index.html). */
@Configuration(proxyBeanMethods = false)
class OpenApiConfiguration {

    @Bean
    OpenAPI gpuCloudOpenApi() {
        return new OpenAPI()
                .info(new Info().title("GPU VM control plane API").version("v1")
                        .description("Customer API (/api/v1, project tokens), admin API (/admin/api/v1, admin tokens) "
                                + "and host-worker protocol (/worker/v1, host credentials). Errors are RFC 9457 "
                                + "application/problem+json.")
                        .license(new License().name("Apache-2.0").url("https://www.apache.org/licenses/LICENSE-2.0")))
                .addServersItem(new Server().url("/").description("this control plane (the demo listens on port 8080)"))
                .components(new Components().addSecuritySchemes("bearer",
                        new SecurityScheme().type(SecurityScheme.Type.HTTP).scheme("bearer")
                                .description("gpc_admin_…, gpc_project_… or a host credential, by surface")))
                .addSecurityItem(new SecurityRequirement().addList("bearer"));
    }

    /**
     * Every operation gets a summary (linters and generated clients want one): the handler's name in
     * words and the surface it belongs to, e.g. "Create — customer VMs", unless it declares its own.
     */
    @Bean
    OperationCustomizer summaries() {
        return (operation, handler) -> {
            if (operation.getSummary() == null || operation.getSummary().isBlank()) {
                String words = handler.getMethod().getName().replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase();
                String surface = handler.getBeanType().getSimpleName()
                        .replace("Controller", "")
                        .replaceAll("([a-z])([A-Z])", "$1 $2")
                        .replace("Admin ", "admin: ").replace("Vm", "VMs").replace("Worker", "host worker")
                        .toLowerCase();
                operation.setSummary(Character.toUpperCase(words.charAt(0)) + words.substring(1) + " — " + surface);
            }
            return operation;
        };
    }
}
