package io.gpucloud.controlplane.tenancy;

import io.gpucloud.controlplane.web.ApiException;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/** Operators mint bootstrap tokens that new host workers register with. */
@RestController
@RequestMapping("/admin/api/v1/bootstrap-tokens")
class AdminTokenController {

    private static final Duration MAX_TTL = Duration.ofDays(30);

    private final TokenService tokens;

    AdminTokenController(TokenService tokens) {
        this.tokens = tokens;
    }

    record CreateBootstrapToken(String name, Integer ttlHours) {
    }

    record CreatedToken(UUID id, String name, String token, Instant expiresAt) {
    }

    @PostMapping
    @ResponseStatus(HttpStatus.CREATED)
    CreatedToken create(@RequestBody CreateBootstrapToken request) {
        if (request.name() == null || request.name().isBlank() || request.name().length() > 100) {
            throw ApiException.badRequest("name", "name is required (1-100 characters).");
        }
        int hours = request.ttlHours() == null ? 24 : request.ttlHours();
        if (hours < 1 || Duration.ofHours(hours).compareTo(MAX_TTL) > 0) {
            throw ApiException.badRequest("ttlHours", "ttlHours must be between 1 and " + MAX_TTL.toHours() + ".");
        }
        Instant expiresAt = Instant.now().plus(Duration.ofHours(hours));
        TokenService.IssuedToken issued = tokens.issueBootstrapToken(request.name(), expiresAt);
        return new CreatedToken(issued.id(), request.name(), issued.token(), expiresAt);
    }
}
