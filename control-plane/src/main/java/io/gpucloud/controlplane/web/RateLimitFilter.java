package io.gpucloud.controlplane.web;

import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.gpucloud.controlplane.tenancy.Principal;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;
import tools.jackson.databind.json.JsonMapper;

/**
 * Per-token rate limiting (Bucket4j token buckets) for the customer ({@code /api/}) and admin
 * ({@code /admin/api/}) surfaces; worker traffic and actuator endpoints are not limited. Runs after
 * {@link BearerAuthFilter} and keys each bucket by the authenticated principal's token id, so
 * unauthenticated calls (already refused with 401) do not reach it.
 *
 * <p>Each token gets {@code gpucloud.api.rate-limit.capacity} requests of burst, refilled greedily
 * at {@code refill-per-minute}. A refused call is a 429 problem with {@code Retry-After} in whole
 * seconds; every admitted call carries {@code X-RateLimit-Limit} and {@code X-RateLimit-Remaining}.
 *
 * <p>The buckets live in this process's memory: when several control-plane instances run behind
 * a load balancer, each enforces its own limit, so a client may get up to N times the configured
 * rate. A shared limit would need a distributed Bucket4j backend (e.g. its PostgreSQL or Redis
 * integration). Buckets are forgotten on restart.
 */
@Component
@Order(BearerAuthFilter.ORDER + 10)
public class RateLimitFilter extends OncePerRequestFilter {

    private final boolean enabled;
    private final long capacity;
    private final long refillPerMinute;
    private final JsonMapper json;
    private final Map<UUID, Bucket> buckets = new ConcurrentHashMap<>();
    private final Map<UUID, long[]> overrides = new ConcurrentHashMap<>();

    public RateLimitFilter(@Value("${gpucloud.api.rate-limit.enabled:true}") boolean enabled,
            @Value("${gpucloud.api.rate-limit.capacity:120}") long capacity,
            @Value("${gpucloud.api.rate-limit.refill-per-minute:120}") long refillPerMinute,
            JsonMapper json) {
        if (capacity < 1 || refillPerMinute < 1) {
            throw new IllegalArgumentException(
                    "gpucloud.api.rate-limit.capacity and refill-per-minute must be at least 1");
        }
        this.enabled = enabled;
        this.capacity = capacity;
        this.refillPerMinute = refillPerMinute;
        this.json = json;
    }

    /**
     * Gives one token its own limit instead of the configured default (a heavy integration, or a
     * test); replaces any bucket it already had.
     */
    public void overrideLimit(UUID tokenId, long capacity, long refillPerMinute) {
        if (capacity < 1 || refillPerMinute < 1) {
            throw new IllegalArgumentException("capacity and refillPerMinute must be at least 1");
        }
        overrides.put(tokenId, new long[] {capacity, refillPerMinute});
        buckets.remove(tokenId);
    }

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        String path = request.getRequestURI();
        return !enabled || !(path.startsWith("/api/") || path.startsWith("/admin/api/"));
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        if (!(request.getAttribute(Principal.REQUEST_ATTRIBUTE) instanceof Principal principal)) {
            chain.doFilter(request, response);
            return;
        }
        long[] limit = overrides.getOrDefault(principal.subjectId(), new long[] {capacity, refillPerMinute});
        Bucket bucket = buckets.computeIfAbsent(principal.subjectId(), id -> newBucket(limit[0], limit[1]));
        ConsumptionProbe probe = bucket.tryConsumeAndReturnRemaining(1);
        response.setHeader("X-RateLimit-Limit", Long.toString(limit[0]));
        response.setHeader("X-RateLimit-Remaining", Long.toString(probe.getRemainingTokens()));
        if (probe.isConsumed()) {
            chain.doFilter(request, response);
            return;
        }
        long retryAfter = Math.max(1, (probe.getNanosToWaitForRefill() + 999_999_999L) / 1_000_000_000L);
        Map<String, Object> problem = new LinkedHashMap<>();
        problem.put("type", Problems.TYPE_BASE + "rate-limited");
        problem.put("title", "Too many requests");
        problem.put("status", HttpStatus.TOO_MANY_REQUESTS.value());
        problem.put("detail", "This token may make " + limit[0] + " requests in a burst, refilled at "
                + limit[1] + " per minute; retry in " + retryAfter + " s.");
        problem.put("retryAfterSeconds", retryAfter);
        response.setStatus(HttpStatus.TOO_MANY_REQUESTS.value());
        response.setHeader("Retry-After", Long.toString(retryAfter));
        response.setContentType(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
        json.writeValue(response.getOutputStream(), problem);
    }

    private static Bucket newBucket(long capacity, long refillPerMinute) {
        return Bucket.builder()
                .addLimit(Bandwidth.builder().capacity(capacity)
                        .refillGreedy(refillPerMinute, Duration.ofMinutes(1)).build())
                .build();
    }
}
