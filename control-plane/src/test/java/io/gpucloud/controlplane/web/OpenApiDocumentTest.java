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
        Path out = Path.of("target", "openapi.json");
        Files.createDirectories(out.getParent());
        Files.writeString(out, r.body());
    }
}
