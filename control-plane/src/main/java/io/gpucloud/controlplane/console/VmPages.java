package io.gpucloud.controlplane.console;

import io.gpucloud.controlplane.tenancy.AuditLog;
import io.gpucloud.controlplane.tenancy.Principal;
import io.gpucloud.controlplane.web.ApiException;
import jakarta.servlet.http.HttpServletRequest;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** What console pages share: VM states, 404s, refusals for viewers, audit of console actions. */
final class VmPages {

    private static final Logger log = LoggerFactory.getLogger(VmPages.class);

    /** States a VM leaves by itself: pages showing one refresh until it settles. */
    static final Set<String> TRANSITIONING = Set.of("pending", "provisioning", "stopping", "starting", "rebooting",
            "deleting", "unknown");

    static final java.util.List<String> STATES = java.util.List.of("pending", "provisioning", "running", "stopping",
            "stopped", "starting", "rebooting", "deleting", "deleted", "failed", "unknown");

    private VmPages() {
    }

    /**
     * Whether a VM page refreshes itself: while the VM is in a state it leaves by itself, and while its
     * workflow has a signal it has not taken yet (a stop or delete just asked for: the page shown right
     * after the action may still read "running", and must not stop refreshing there).
     */
    static boolean live(org.springframework.jdbc.core.simple.JdbcClient jdbc, java.util.UUID vmId, String state) {
        return TRANSITIONING.contains(state) || jdbc.sql("""
                SELECT EXISTS (SELECT 1 FROM vm v JOIN semaphore s ON s.strand_id = (v.placement->>'strandId')::uuid
                                WHERE v.id = ?)
                """).param(vmId).query(Boolean.class).single();
    }

    /**
     * Unknown ids, malformed ids and other tenants' resources, on any console page: thrown, and
     * rendered as the 404 page by {@link ConsoleModel}.
     */
    static final class NotFound extends RuntimeException {
        NotFound() {
            this(null);
        }

        /** @param message shown on the page, or null for the generic sentence */
        NotFound(String message) {
            super(message, null, false, false);
        }
    }

    /** The id in a console URL, or the 404 page when it is not a UUID. */
    static java.util.UUID id(String id) {
        try {
            return java.util.UUID.fromString(id);
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new NotFound();
        }
    }

    /** A signed-in user asking for a change their role does not allow. */
    static final class Refused extends RuntimeException {
        Refused() {
            super("refused", null, false, false);
        }
    }

    /** Viewers look; the forms are hidden and a direct POST is refused like any forbidden page. */
    static void requireChange(ConsoleUser me) {
        if (!me.user().canChange()) {
            throw new Refused();
        }
    }

    /** A service's refusal as one sentence for the page. */
    static String message(ApiException e) {
        return e.getMessage();
    }

    static void audit(AuditLog audit, Principal actor, String action, String targetType, Object targetId,
                      HttpServletRequest request, ApiException failure) {
        Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("status", failure == null ? 200 : failure.status().value());
        detail.put("method", request.getMethod());
        detail.put("path", request.getRequestURI());
        try {
            audit.record(new AuditLog.Event(actor, action, targetType, targetId == null ? null : targetId.toString(),
                    request.getRemoteAddr(), failure == null ? "succeeded"
                    : failure.status().is4xxClientError() ? "rejected" : "failed", detail));
        } catch (RuntimeException e) {
            log.error("Could not write the audit event for {} {}", request.getMethod(), request.getRequestURI(), e);
        }
    }
}
