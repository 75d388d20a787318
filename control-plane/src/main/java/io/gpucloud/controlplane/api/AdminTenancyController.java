package io.gpucloud.controlplane.api;

import io.gpucloud.controlplane.tenancy.Tenants;
import io.gpucloud.controlplane.tenancy.TokenService;
import io.gpucloud.controlplane.tenancy.Tokens;
import io.gpucloud.controlplane.web.ApiException;
import io.gpucloud.controlplane.web.StrictJson;
import jakarta.servlet.http.HttpServletRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/**
 * Operators create tenants, their projects and the projects' first tokens, and set quotas. Users
 * and passwords are not part of this (see /admin/api/v1/users). Mutations are audited by
 * {@link AuditInterceptor} like every other admin call.
 */
@RestController
@RequestMapping("/admin/api/v1")
class AdminTenancyController {

    private static final int MAX_TOKEN_DAYS = 3650;

    private final Tenants tenants;
    private final TokenService tokens;
    private final Quotas quotas;

    AdminTenancyController(Tenants tenants, TokenService tokens, Quotas quotas) {
        this.tenants = tenants;
        this.tokens = tokens;
        this.quotas = quotas;
    }

    @StrictJson.Reject
    record CreateTenant(String name) {
    }

    @StrictJson.Reject
    record CreateProject(String name) {
    }

    @StrictJson.Reject
    record CreateProjectToken(String name, Integer expiresInDays) {
    }

    /** The token in clear, shown only in this response; only its hash is stored. */
    record CreatedProjectToken(UUID id, UUID projectId, String name, String token, String prefix, Instant expiresAt) {
    }

    @StrictJson.Reject
    record QuotaLimits(Map<String, Number> limits) {
    }

    record TenantList(List<Tenants.Tenant> items) {
    }

    record ProjectList(List<Tenants.Project> items) {
    }

    record TokenList(List<TokenService.TokenInfo> items) {
    }

    @PostMapping("/tenants")
    @ResponseStatus(HttpStatus.CREATED)
    Tenants.Tenant createTenant(@RequestBody CreateTenant request, HttpServletRequest http) {
        Tenants.Tenant tenant = tenants.createTenant(request.name());
        AuditInterceptor.target(http, "tenant", tenant.id());
        return tenant;
    }

    @GetMapping("/tenants")
    TenantList listTenants() {
        return new TenantList(tenants.tenants());
    }

    @GetMapping("/tenants/{tenantId}")
    Tenants.Tenant getTenant(@PathVariable UUID tenantId) {
        return tenants.tenant(tenantId);
    }

    @PostMapping("/tenants/{tenantId}/projects")
    @ResponseStatus(HttpStatus.CREATED)
    Tenants.Project createProject(@PathVariable UUID tenantId, @RequestBody CreateProject request,
            HttpServletRequest http) {
        Tenants.Project project = tenants.createProject(tenantId, request.name());
        AuditInterceptor.target(http, "project", project.id());
        return project;
    }

    @GetMapping("/tenants/{tenantId}/projects")
    ProjectList listProjects(@PathVariable UUID tenantId) {
        return new ProjectList(tenants.projects(tenantId));
    }

    @GetMapping("/projects/{projectId}")
    Tenants.Project getProject(@PathVariable UUID projectId) {
        return tenants.project(projectId);
    }

    /** Mints a project token (e.g. the project's first, from which the customer mints more via /api/v1/tokens). */
    @PostMapping("/projects/{projectId}/tokens")
    @ResponseStatus(HttpStatus.CREATED)
    CreatedProjectToken createProjectToken(@PathVariable UUID projectId, @RequestBody CreateProjectToken request,
            HttpServletRequest http) {
        tenants.project(projectId);
        if (request.name() == null || request.name().isBlank() || request.name().length() > 100) {
            throw ApiException.badRequest("name", "name is required (1-100 characters).");
        }
        Instant expiresAt = null;
        if (request.expiresInDays() != null) {
            if (request.expiresInDays() < 1 || request.expiresInDays() > MAX_TOKEN_DAYS) {
                throw ApiException.badRequest("expiresInDays", "expiresInDays must be between 1 and " + MAX_TOKEN_DAYS
                        + " (omit it for a token that does not expire).");
            }
            expiresAt = Instant.now().plus(Duration.ofDays(request.expiresInDays()));
        }
        TokenService.IssuedToken issued = tokens.issueProjectToken(request.name(), projectId, expiresAt);
        AuditInterceptor.target(http, "token", issued.id());
        return new CreatedProjectToken(issued.id(), projectId, request.name(), issued.token(),
                Tokens.prefix(issued.token()), expiresAt);
    }

    @GetMapping("/projects/{projectId}/tokens")
    TokenList listProjectTokens(@PathVariable UUID projectId) {
        tenants.project(projectId);
        return new TokenList(tokens.listProjectTokens(projectId));
    }

    @GetMapping("/projects/{projectId}/quota")
    Quotas.QuotaList getQuota(@PathVariable UUID projectId) {
        tenants.project(projectId);
        return quotas.list(projectId);
    }

    /** Replaces the project's limits: listed resources get theirs, the others go back to the defaults. */
    @PutMapping("/projects/{projectId}/quota")
    Quotas.QuotaList putQuota(@PathVariable UUID projectId, @RequestBody QuotaLimits request,
            HttpServletRequest http) {
        tenants.project(projectId);
        AuditInterceptor.target(http, "quota", projectId);
        if (request.limits() == null) {
            throw ApiException.badRequest("limits", "limits is required: an object of resource to limit, "
                    + "e.g. {\"vms\": 5, \"vcpus\": 128, \"gpus:H100-SXM5-80GB\": 8}.");
        }
        quotas.replace(projectId, request.limits());
        return quotas.list(projectId);
    }
}
