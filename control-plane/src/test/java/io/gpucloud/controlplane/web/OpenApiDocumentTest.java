package io.gpucloud.controlplane.web;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** The OpenAPI document is served and covers the customer API; .ci/run lints the copy written here. */
class OpenApiDocumentTest extends ControlPlaneTestBase {

    @Test
    void theDocumentDescribesTheCustomerApiWithBearerAuth() throws Exception {
        Response r = call("GET", "/v3/api-docs", null, null);
        assertThat(r.status()).isEqualTo(200);
        JsonNode doc = r.json();
        assertThat(doc.get("openapi").asString()).startsWith("3.");
        assertThat(doc.get("paths").propertyNames()).contains("/api/v1/vms", "/api/v1/vms/{vmId}",
                "/api/v1/instance-types", "/api/v1/ssh-keys", "/api/v1/usage", "/api/v1/quotas",
                "/api/v1/tokens", "/api/v1/tokens/{tokenId}");
        assertThat(doc.get("components").get("securitySchemes").get("bearer").get("scheme").asString())
                .isEqualTo("bearer");
        assertThat(doc.get("paths").propertyNames()).contains("/api/v1/boot-images", "/admin/api/v1/tenants",
                "/admin/api/v1/tenants/{tenantId}/projects", "/admin/api/v1/projects/{projectId}/tokens",
                "/admin/api/v1/projects/{projectId}/quota", "/admin/api/v1/rate-cards");

        // every operation of the authenticated surfaces documents its problem+json errors
        doc.get("paths").properties().forEach(path -> path.getValue().properties().forEach(op -> {
            if (path.getKey().matches("^/(api|admin/api|worker)/.*")) {
                JsonNode responses = op.getValue().get("responses");
                String where = op.getKey() + " " + path.getKey();
                assertThat(responses.propertyNames()).as(where).contains("401", "403");
                assertThat(responses.get("401").get("content").get("application/problem+json").get("schema")
                        .get("$ref").asString()).as(where).isEqualTo("#/components/schemas/Problem");
                if (path.getKey().contains("{")) {
                    assertThat(responses.propertyNames()).as(where).contains("404");
                }
                if (!path.getKey().startsWith("/worker/")) {
                    assertThat(responses.get("429").get("headers").has("Retry-After")).as(where).isTrue();
                }
            }
        }));
        JsonNode createVm = doc.get("paths").get("/api/v1/vms").get("post").get("responses");
        assertThat(createVm.propertyNames()).contains("200", "201", "400", "401", "403", "409", "413", "422", "429");
        assertThat(doc.get("paths").get("/admin/api/v1/tenants").get("post").get("responses").propertyNames())
                .contains("201", "400", "409");
        assertThat(doc.get("components").get("schemas").get("Problem").get("required").toString())
                .contains("type", "title", "status");

        Path out = Path.of("target", "openapi.json");
        Files.createDirectories(out.getParent());
        Files.writeString(out, r.body());
    }
}
