package io.gpucloud.controlplane.tenancy;

import io.gpucloud.controlplane.web.ApiException;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/** Operators create console users: other operators (admin) and tenant users (owner, member, viewer). */
@RestController
@RequestMapping("/admin/api/v1/users")
class AdminUserController {

    private final Users users;
    private final org.springframework.jdbc.core.simple.JdbcClient jdbc;

    AdminUserController(Users users, org.springframework.jdbc.core.simple.JdbcClient jdbc) {
        this.users = users;
        this.jdbc = jdbc;
    }

    /** The password is write-only: it is hashed with Argon2id and never shown again. */
    record CreateUser(String email, String displayName, String password, String role, String tenant) {
    }

    @PostMapping
    @ResponseStatus(HttpStatus.CREATED)
    Users.User create(@RequestBody CreateUser request) {
        return users.create(request.email(), request.displayName(), request.password(), request.role(), request.tenant());
    }

    @GetMapping
    Map<String, List<Users.User>> list(@RequestParam(required = false) String tenant) {
        UUID tenantId = null;
        if (tenant != null) {
            tenantId = jdbc.sql("SELECT id FROM tenant WHERE name = ?").param(tenant).query(UUID.class).optional()
                    .orElseThrow(() -> ApiException.notFound("Tenant", tenant));
        }
        return Map.of("items", users.list(tenantId));
    }

    @GetMapping("/{userId}")
    Users.User get(@PathVariable UUID userId) {
        return users.find(userId).orElseThrow(() -> ApiException.notFound("User", userId));
    }

    /** Disabling keeps the user (audit refers to it) but ends sign-in. */
    @PostMapping("/{userId}/disable")
    Users.User disable(@PathVariable UUID userId) {
        users.disable(userId);
        return get(userId);
    }
}
