package io.gpucloud.controlplane.api;

import io.gpucloud.controlplane.tenancy.Principal;
import io.gpucloud.controlplane.tenancy.TokenService;
import io.gpucloud.controlplane.web.ApiException;
import io.gpucloud.controlplane.web.StrictJson;
import jakarta.servlet.http.HttpServletRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestAttribute;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/**
 * A project's API tokens, managed with a token of that project. The clear token is returned once,
 * by the create call; lists show only its prefix. Revoking is immediate: the next call with the
 * token is a 401. Another project's token is a 404, like every other resource.
 */
@RestController
@RequestMapping("/api/v1/tokens")
class TokenController {

    static final int MAX_TTL_DAYS = 365;
    private static final Pattern NAME = Pattern.compile("^[\\x20-\\x7e]{1,100}$");

    private final TokenService tokens;

    TokenController(TokenService tokens) {
        this.tokens = tokens;
    }

    @StrictJson.Reject
    record CreateToken(String name, Integer ttlDays) {
    }

    /** The create answer: the only time the clear {@code token} is shown. */
    record CreatedToken(UUID id, String name, String prefix, String token, Instant createdAt, Instant expiresAt) {
    }

    @PostMapping
    @ResponseStatus(HttpStatus.CREATED)
    CreatedToken create(@RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal caller,
            @RequestBody CreateToken request, HttpServletRequest http) {
        String name = request.name();
        if (name == null || name.isBlank() || !NAME.matcher(name).matches()) {
            throw ApiException.badRequest("name", "name is required: 1-100 printable ASCII characters.");
        }
        Instant expiresAt = null;
        if (request.ttlDays() != null) {
            if (request.ttlDays() < 1 || request.ttlDays() > MAX_TTL_DAYS) {
                throw ApiException.badRequest("ttlDays", "ttlDays must be between 1 and " + MAX_TTL_DAYS + ".");
            }
            expiresAt = Instant.now().plus(Duration.ofDays(request.ttlDays()));
        }
        TokenService.IssuedToken issued = tokens.issueProjectToken(name.strip(), caller.projectId(), expiresAt);
        AuditInterceptor.target(http, "token", issued.id());
        TokenService.TokenInfo info = tokens.findProjectToken(caller.projectId(), issued.id()).orElseThrow();
        return new CreatedToken(info.id(), info.name(), info.prefix(), issued.token(), info.createdAt(),
                info.expiresAt());
    }

    @GetMapping
    Map<String, List<TokenService.TokenInfo>> list(@RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal caller) {
        return Map.of("items", tokens.listProjectTokens(caller.projectId()));
    }

    @GetMapping("/{tokenId}")
    TokenService.TokenInfo get(@RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal caller,
            @PathVariable UUID tokenId) {
        return tokens.findProjectToken(caller.projectId(), tokenId)
                .orElseThrow(() -> ApiException.notFound("Token", tokenId));
    }

    @DeleteMapping("/{tokenId}")
    @ResponseStatus(HttpStatus.NO_CONTENT)
    void revoke(@RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal caller, @PathVariable UUID tokenId) {
        tokens.revokeProjectToken(caller.projectId(), tokenId)
                .orElseThrow(() -> ApiException.notFound("Token", tokenId));
    }
}
