package io.gpucloud.controlplane.virtualization;

import io.gpucloud.controlplane.tenancy.Principal;
import io.gpucloud.controlplane.virtualization.VirtualizationModes.Catalog;
import io.gpucloud.controlplane.virtualization.VirtualizationModes.VirtualizationView;
import jakarta.servlet.http.HttpServletRequest;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/** GPU virtualization modes for operators. Authenticated by an admin bearer token (see BearerAuthFilter). */
@RestController
@RequestMapping("/admin/api/v1")
class AdminVirtualizationController {

    private final VirtualizationModes modes;

    AdminVirtualizationController(VirtualizationModes modes) {
        this.modes = modes;
    }

    /** @param params the mode's parameters (see the catalog); omitted ones take their defaults */
    record SwitchRequest(String mode, Map<String, Object> params) {
    }

    /** The modes, their parameters and the MIG profile table; with {@code hostId}, which fit that host. */
    @GetMapping("/virtualization-modes")
    Catalog catalog(@RequestParam Optional<UUID> hostId) {
        return modes.catalog(hostId.orElse(null));
    }

    @GetMapping("/hosts/{hostId}/virtualization")
    VirtualizationView get(@PathVariable UUID hostId) {
        return modes.view(hostId);
    }

    /** Starts the switch: 202 with status "switching"; poll GET until "ready" or "switch_failed". */
    @PutMapping("/hosts/{hostId}/virtualization")
    ResponseEntity<VirtualizationView> put(@PathVariable UUID hostId, @RequestBody SwitchRequest body,
                                           HttpServletRequest request) {
        Principal caller = (Principal) request.getAttribute(Principal.REQUEST_ATTRIBUTE);
        VirtualizationView view = modes.requestSwitch(hostId, body.mode(), body.params(), caller);
        return ResponseEntity.status(HttpStatus.ACCEPTED).body(view);
    }
}
