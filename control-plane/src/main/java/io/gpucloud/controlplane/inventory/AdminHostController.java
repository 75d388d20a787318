package io.gpucloud.controlplane.inventory;

import io.gpucloud.controlplane.inventory.HostViews.HostDetail;
import io.gpucloud.controlplane.inventory.HostViews.HostSummary;
import io.gpucloud.controlplane.web.ApiException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/** The fleet as operators see it. Authenticated by an admin bearer token (see BearerAuthFilter). */
@RestController
@RequestMapping("/admin/api/v1/hosts")
class AdminHostController {

    private static final Set<String> STATES =
            Set.of("onboarding", "ready", "draining", "unreachable", "maintenance", "retired");

    private final HostQueries queries;
    private final HostRegistry registry;

    AdminHostController(HostQueries queries, HostRegistry registry) {
        this.queries = queries;
        this.registry = registry;
    }

    record StateChange(String reason) {
    }

    @org.springframework.web.bind.annotation.PostMapping("/{hostId}/{action:drain|undrain|maintenance}")
    HostDetail act(@PathVariable UUID hostId, @PathVariable String action,
                   @org.springframework.web.bind.annotation.RequestBody(required = false) StateChange body) {
        registry.applyAdminAction(hostId, action, body == null ? null : body.reason());
        return queries.detail(hostId);
    }

    /** An operator checked a suspect or quarantined device: placement may use it again. */
    @org.springframework.web.bind.annotation.PostMapping("/{hostId}/devices/{bdf}/return-to-service")
    HostDetail returnToService(@PathVariable UUID hostId, @PathVariable String bdf,
                               @org.springframework.web.bind.annotation.RequestBody(required = false) StateChange body) {
        registry.returnToService(hostId, bdf, body == null ? null : body.reason());
        return queries.detail(hostId);
    }

    @GetMapping
    Map<String, List<HostSummary>> list(@RequestParam Optional<String> state,
                                        @RequestParam Optional<String> gpuModel,
                                        @RequestParam Optional<String> location) {
        state.filter(s -> !STATES.contains(s)).ifPresent(s -> {
            throw ApiException.badRequest("state", "Unknown host state '" + s + "'; one of " + STATES + ".");
        });
        return Map.of("items", queries.list(state, gpuModel, location));
    }

    @GetMapping("/{hostId}")
    HostDetail get(@PathVariable UUID hostId) {
        return queries.detail(hostId);
    }
}
