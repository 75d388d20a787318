package io.gpucloud.controlplane.web;

import io.gpucloud.controlplane.tenancy.Principal;
import io.gpucloud.controlplane.tenancy.TokenService;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;
import tools.jackson.databind.json.JsonMapper;

/**
 * Bearer-token gate for the three API surfaces. Each surface accepts exactly one kind of
 * credential: admin tokens for {@code /admin/api}, project tokens for {@code /api}, host
 * credentials for {@code /worker} (bootstrap tokens only for registration). Ordered explicitly so
 * that {@link RateLimitFilter} runs after it and finds the principal.
 */
@Component
@Order(BearerAuthFilter.ORDER)
public class BearerAuthFilter extends OncePerRequestFilter {

    public static final int ORDER = Ordered.LOWEST_PRECEDENCE - 100;

    private final TokenService tokens;
    private final JsonMapper json;

    public BearerAuthFilter(TokenService tokens, JsonMapper json) {
        this.tokens = tokens;
        this.json = json;
    }

    private record Surface(String prefix, Set<Principal.Kind> accepted) {
    }

    private static final Surface ADMIN = new Surface("/admin/api/", Set.of(Principal.Kind.ADMIN));
    private static final Surface CUSTOMER = new Surface("/api/", Set.of(Principal.Kind.PROJECT));
    private static final Surface REGISTER = new Surface("/worker/v1/register", Set.of(Principal.Kind.BOOTSTRAP));
    private static final Surface WORKER = new Surface("/worker/", Set.of(Principal.Kind.HOST));

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        return surfaceOf(request.getRequestURI()).isEmpty();
    }

    private static Optional<Surface> surfaceOf(String path) {
        for (Surface s : new Surface[] {ADMIN, CUSTOMER, REGISTER, WORKER}) {
            if (path.startsWith(s.prefix())) {
                return Optional.of(s);
            }
        }
        return Optional.empty();
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        Surface surface = surfaceOf(request.getRequestURI()).orElseThrow();
        String header = request.getHeader("Authorization");
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7) || header.length() <= 7) {
            reject(response, HttpStatus.UNAUTHORIZED, "unauthenticated", "Authentication required",
                    "Send an 'Authorization: Bearer <token>' header.");
            return;
        }
        String token = header.substring(7).trim();
        if (token.length() > 200) {
            reject(response, HttpStatus.UNAUTHORIZED, "unauthenticated", "Authentication required",
                    "The bearer token is not valid.");
            return;
        }
        Optional<Principal> principal = surface == WORKER
                ? tokens.authenticateHost(token)
                : tokens.authenticate(token);
        if (principal.isEmpty()) {
            reject(response, HttpStatus.UNAUTHORIZED, "unauthenticated", "Authentication required",
                    "The bearer token is unknown, revoked or expired.");
            return;
        }
        if (!surface.accepted().contains(principal.get().kind())) {
            reject(response, HttpStatus.FORBIDDEN, "forbidden", "Forbidden",
                    "This credential may not use " + surface.prefix() + " endpoints.");
            return;
        }
        request.setAttribute(Principal.REQUEST_ATTRIBUTE, principal.get());
        chain.doFilter(request, response);
    }

    private void reject(HttpServletResponse response, HttpStatus status, String type, String title, String detail)
            throws IOException {
        Map<String, Object> problem = new LinkedHashMap<>();
        problem.put("type", Problems.TYPE_BASE + type);
        problem.put("title", title);
        problem.put("status", status.value());
        problem.put("detail", detail);
        response.setStatus(status.value());
        response.setContentType(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
        if (status == HttpStatus.UNAUTHORIZED) {
            response.setHeader("WWW-Authenticate", "Bearer");
        }
        json.writeValue(response.getOutputStream(), problem);
    }
}
