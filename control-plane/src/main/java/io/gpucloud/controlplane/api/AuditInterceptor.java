package io.gpucloud.controlplane.api;

import io.gpucloud.controlplane.tenancy.AuditLog;
import io.gpucloud.controlplane.tenancy.Principal;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.method.HandlerMethod;
import org.springframework.web.servlet.HandlerInterceptor;
import org.springframework.web.servlet.HandlerMapping;
import org.springframework.web.servlet.config.annotation.InterceptorRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/**
 * Writes one audit event per mutating customer call, after the response status is known, so
 * refused and failed attempts are recorded as well as successes (and outside the request's
 * transaction, which a failure rolls back). Calls refused before authentication have no actor and
 * are not recorded here.
 */
@Configuration(proxyBeanMethods = false)
class AuditInterceptor implements HandlerInterceptor, WebMvcConfigurer {

    private static final Logger log = LoggerFactory.getLogger(AuditInterceptor.class);
    private static final String TARGET = AuditInterceptor.class.getName() + ".target";
    private static final Set<String> READS = Set.of("GET", "HEAD", "OPTIONS");

    private final AuditLog audit;

    AuditInterceptor(AuditLog audit) {
        this.audit = audit;
    }

    /** Names the resource a create made, which the URL cannot tell. */
    static void target(HttpServletRequest request, String type, UUID id) {
        request.setAttribute(TARGET, new String[] {type, id.toString()});
    }

    @Override
    public void addInterceptors(InterceptorRegistry registry) {
        // operators' mutating calls are audited like customers' (previews change nothing)
        registry.addInterceptor(this).addPathPatterns("/api/v1/**", "/admin/api/v1/**")
                .excludePathPatterns("/admin/api/v1/placement/preview");
    }

    @Override
    public void afterCompletion(HttpServletRequest request, HttpServletResponse response, Object handler,
            Exception ex) {
        if (READS.contains(request.getMethod()) || !(handler instanceof HandlerMethod)) {
            return;
        }
        Principal caller = (Principal) request.getAttribute(Principal.REQUEST_ATTRIBUTE);
        @SuppressWarnings("unchecked")
        Map<String, String> vars = (Map<String, String>) request.getAttribute(HandlerMapping.URI_TEMPLATE_VARIABLES_ATTRIBUTE);
        vars = vars == null ? Map.of() : vars;
        String[] target = (String[]) request.getAttribute(TARGET);
        String type = target != null ? target[0] : typeOf(request.getRequestURI());
        String id = target != null ? target[1] : vars.getOrDefault("vmId", vars.getOrDefault("keyId",
                vars.getOrDefault("tokenId", vars.getOrDefault("hostId",
                        vars.getOrDefault("projectId", vars.get("tenantId"))))));
        String verb = vars.containsKey("action") ? vars.get("action")
                : request.getMethod().equals("DELETE") ? "delete"
                : request.getMethod().equals("PUT") || request.getMethod().equals("PATCH") ? "update" : "create";
        int status = ex != null && response.getStatus() < 400 ? 500 : response.getStatus();
        Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("status", status);
        detail.put("method", request.getMethod());
        detail.put("path", request.getRequestURI());
        try {
            audit.record(new AuditLog.Event(caller, type + "." + verb, type, id, request.getRemoteAddr(),
                    status < 400 ? "succeeded" : status < 500 ? "rejected" : "failed", detail));
        } catch (RuntimeException e) {
            // the call itself has completed; a lost audit row is logged rather than turned into an error
            log.error("Could not write the audit event for {} {}", request.getMethod(), request.getRequestURI(), e);
        }
    }

    private static String typeOf(String uri) {
        String rest = uri.startsWith("/admin/api/v1/") ? uri.substring("/admin/api/v1/".length())
                : uri.substring("/api/v1/".length());
        String collection = rest.contains("/") ? rest.substring(0, rest.indexOf('/')) : rest;
        return switch (collection) {
            case "vms" -> "vm";
            case "ssh-keys" -> "ssh-key";
            case "tokens" -> "token";
            case "hosts" -> "host";
            case "bootstrap-tokens" -> "bootstrap-token";
            case "tenants" -> "tenant";
            case "projects" -> "project";
            case "rate-cards" -> "rate-card";
            default -> collection;
        };
    }
}
