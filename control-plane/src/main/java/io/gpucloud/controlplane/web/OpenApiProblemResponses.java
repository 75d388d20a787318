package io.gpucloud.controlplane.web;

import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.Operation;
import io.swagger.v3.oas.models.PathItem;
import io.swagger.v3.oas.models.headers.Header;
import io.swagger.v3.oas.models.media.Content;
import io.swagger.v3.oas.models.media.IntegerSchema;
import io.swagger.v3.oas.models.media.MediaType;
import io.swagger.v3.oas.models.media.ObjectSchema;
import io.swagger.v3.oas.models.media.Schema;
import io.swagger.v3.oas.models.media.StringSchema;
import io.swagger.v3.oas.models.responses.ApiResponse;
import io.swagger.v3.oas.models.responses.ApiResponses;
import java.util.Map;
import java.util.Set;
import org.springdoc.core.customizers.OpenApiCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Documents the problem+json error responses each operation can really return, derived from where
 * they come from rather than declared per handler:
 * <ul>
 *   <li>401 and 403 on every operation of the three authenticated surfaces ({@link BearerAuthFilter}:
 *       missing/unknown/revoked/expired token; a credential of the wrong kind, or a refused quota);</li>
 *   <li>429 on {@code /api/} and {@code /admin/api/} ({@link RateLimitFilter});</li>
 *   <li>400 on operations with parameters or a body (malformed JSON, unknown fields, wrong types,
 *       invalid values: {@link ProblemHandler}, {@link StrictJson}, the handlers' validation);</li>
 *   <li>404 on operations addressing a resource by path ({@code ApiException.notFound});</li>
 *   <li>413 on customer operations with a body ({@link BodyLimitFilter});</li>
 *   <li>409 and 422 on the operations listed in {@link #CONFLICTS} and {@link #UNPROCESSABLE}, whose
 *       handlers throw them (duplicate names, idempotency-key reuse, invalid state; unknown boot image,
 *       oversized user data).</li>
 * </ul>
 */
@Configuration(proxyBeanMethods = false)
class OpenApiProblemResponses {

    static final String PROBLEM = "Problem";

    /** "METHOD path" of operations that answer 409 for a duplicate or a state that forbids the call. */
    static final Set<String> CONFLICTS = Set.of(
            "POST /api/v1/vms", "POST /api/v1/vms/{vmId}/{action}", "POST /api/v1/ssh-keys",
            "POST /admin/api/v1/vms", "POST /admin/api/v1/vms/{vmId}/{action}",
            "POST /admin/api/v1/hosts/{hostId}/{action}", "POST /admin/api/v1/tenants",
            "POST /admin/api/v1/tenants/{tenantId}/projects", "POST /admin/api/v1/rate-cards",
            "POST /worker/v1/register");

    /** Operations that answer 422 for a well-formed value the control plane cannot accept. */
    static final Set<String> UNPROCESSABLE = Set.of("POST /api/v1/vms");

    @Bean
    OpenApiCustomizer problemResponses() {
        return openApi -> {
            if (openApi.getComponents() == null) {
                openApi.setComponents(new Components());
            }
            openApi.getComponents().addSchemas(PROBLEM, problemSchema());
            if (openApi.getPaths() == null) {
                return;
            }
            openApi.getPaths().forEach((path, item) -> item.readOperationsMap()
                    .forEach((method, operation) -> document(path, method, operation)));
        };
    }

    private static void document(String path, PathItem.HttpMethod method, Operation op) {
        boolean customer = path.startsWith("/api/");
        boolean admin = path.startsWith("/admin/api/");
        boolean worker = path.startsWith("/worker/");
        if (!customer && !admin && !worker) {
            return;
        }
        String key = method.name() + " " + path;
        ApiResponses responses = op.getResponses() == null ? new ApiResponses() : op.getResponses();
        op.setResponses(responses);
        boolean hasInput = op.getRequestBody() != null || (op.getParameters() != null && !op.getParameters().isEmpty());
        if (hasInput) {
            add(responses, "400", "Invalid request: malformed JSON, an unknown field, a wrong type or an invalid "
                    + "value; `field` names the offending field or parameter.");
        }
        add(responses, "401", "Authentication required: no bearer token, or an unknown, revoked or expired one.")
                .addHeaderObject("WWW-Authenticate", new Header().description("Bearer").schema(new StringSchema()));
        add(responses, "403", key.equals("POST /api/v1/vms")
                ? "Forbidden: this credential may not use this surface, or the project's quota would be exceeded "
                        + "(`resource`, `limit`, `inUse` and `requested` say by how much)."
                : "Forbidden: this credential may not use this surface.");
        if (path.contains("{")) {
            add(responses, "404", "Not found: no such resource (or it belongs to another project).");
        }
        if (CONFLICTS.contains(key)) {
            add(responses, "409", "Conflict: a duplicate (name, rate, Idempotency-Key with another body) or a "
                    + "state that does not allow this call.");
        }
        if (customer && op.getRequestBody() != null) {
            add(responses, "413", "Request body too large (at most " + BodyLimitFilter.LIMIT + " bytes).");
        }
        if (UNPROCESSABLE.contains(key)) {
            add(responses, "422", "A well-formed value the control plane cannot accept: an unknown `bootImage`, "
                    + "or `userData` over 16 KiB or not text; `field` names it.");
        }
        if (customer || admin) {
            add(responses, "429", "Too many requests for this token; retry after `Retry-After` seconds.")
                    .addHeaderObject("Retry-After", new Header().description("Seconds to wait before retrying")
                            .schema(new IntegerSchema()));
        }
    }

    private static ApiResponse add(ApiResponses responses, String status, String description) {
        ApiResponse existing = responses.get(status);
        if (existing != null) {
            return existing;
        }
        ApiResponse response = new ApiResponse().description(description)
                .content(new Content().addMediaType("application/problem+json",
                        new MediaType().schema(new Schema<>().$ref("#/components/schemas/" + PROBLEM))));
        responses.addApiResponse(status, response);
        return response;
    }

    @SuppressWarnings({"rawtypes", "unchecked"})
    private static Schema<?> problemSchema() {
        ObjectSchema schema = new ObjectSchema();
        schema.description("RFC 9457 problem details. Problems about one input carry `field`; others may carry "
                + "more members (e.g. quota numbers, `retryAfterSeconds`).");
        schema.setProperties(new java.util.LinkedHashMap<>(Map.<String, Schema>of(
                "type", new StringSchema().format("uri").example("https://gpucloud.dev/problems/invalid-request"),
                "title", new StringSchema().example("Invalid request"),
                "status", new IntegerSchema().example(400),
                "detail", new StringSchema().example("name must be 1-63 lower-case letters, digits or '-'."),
                "instance", new StringSchema().example("/api/v1/vms"),
                "field", new StringSchema().example("name"))));
        schema.setAdditionalProperties(Boolean.TRUE);
        schema.required(java.util.List.of("type", "title", "status"));
        return schema;
    }
}
