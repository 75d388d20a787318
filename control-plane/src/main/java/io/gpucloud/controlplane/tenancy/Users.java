package io.gpucloud.controlplane.tenancy;

import io.gpucloud.controlplane.web.ApiException;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.security.crypto.password.PasswordEncoder;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/**
 * People who sign in to the console. Admins operate the cloud and belong to no tenant; owners,
 * members and viewers belong to one tenant and see its projects. Passwords are kept only as
 * Argon2id hashes (see {@code console.ConsoleSecurity#passwordEncoder}).
 */
@Service
public class Users {

    public static final Set<String> ROLES = Set.of("admin", "owner", "member", "viewer");
    public static final int MIN_PASSWORD_LENGTH = 12;
    private static final Pattern EMAIL = Pattern.compile("^[^@\\s]{1,64}@[^@\\s]{1,190}\\.[^@\\s]{1,63}$");

    /** A user as the console and the admin API show it; never the hash. */
    public record User(UUID id, UUID tenantId, String tenantName, String email, String displayName, String role,
                       Instant createdAt, Instant lastSignInAt, boolean disabled) {

        public boolean admin() {
            return "admin".equals(role);
        }

        /** owners and members change things; viewers only look */
        public boolean canChange() {
            return "admin".equals(role) || "owner".equals(role) || "member".equals(role);
        }
    }

    /** What sign-in needs: the user and the stored hash. */
    public record Credentials(User user, String passwordHash, Instant lockedUntil) {
    }

    private final JdbcClient jdbc;
    private final PasswordEncoder passwords;

    public Users(JdbcClient jdbc, PasswordEncoder passwords) {
        this.jdbc = jdbc;
        this.passwords = passwords;
    }

    private static final String SELECT = """
            SELECT u.id, u.tenant_id, t.name AS tenant_name, u.email, u.display_name, u.role, u.created_at,
                   u.last_sign_in_at, u.disabled_at IS NOT NULL AS disabled, u.password_hash, u.locked_until
              FROM app_user u LEFT JOIN tenant t ON t.id = u.tenant_id
            """;

    private static User user(java.sql.ResultSet rs) throws java.sql.SQLException {
        java.sql.Timestamp last = rs.getTimestamp("last_sign_in_at");
        return new User(rs.getObject("id", UUID.class), rs.getObject("tenant_id", UUID.class),
                rs.getString("tenant_name"), rs.getString("email"), rs.getString("display_name"),
                rs.getString("role"), rs.getTimestamp("created_at").toInstant(),
                last == null ? null : last.toInstant(), rs.getBoolean("disabled"));
    }

    /**
     * Creates a user. Validation errors name the offending field; a taken e-mail is 409.
     *
     * @param tenantName required for owner, member and viewer; must be absent for admin
     */
    @Transactional
    public User create(String email, String displayName, String password, String role, String tenantName) {
        String normalized = email == null ? "" : email.trim().toLowerCase(Locale.ROOT);
        if (!EMAIL.matcher(normalized).matches()) {
            throw ApiException.badRequest("email", "email must be an e-mail address such as ops@example.com.");
        }
        if (displayName != null && displayName.length() > 100) {
            throw ApiException.badRequest("displayName", "displayName must be at most 100 characters.");
        }
        if (role == null || !ROLES.contains(role)) {
            throw ApiException.badRequest("role", "role must be one of admin, owner, member, viewer.");
        }
        checkPassword(password);
        UUID tenantId = null;
        if ("admin".equals(role)) {
            if (tenantName != null && !tenantName.isBlank()) {
                throw ApiException.badRequest("tenant", "Admins operate the whole cloud and belong to no tenant.");
            }
        } else {
            if (tenantName == null || tenantName.isBlank()) {
                throw ApiException.badRequest("tenant", "A " + role + " belongs to a tenant: name it in tenant.");
            }
            tenantId = jdbc.sql("SELECT id FROM tenant WHERE name = ?").param(tenantName.trim())
                    .query(UUID.class).optional()
                    .orElseThrow(() -> ApiException.badRequest("tenant", "No tenant named '" + tenantName + "' exists."));
        }
        UUID id = UUID.randomUUID();
        try {
            jdbc.sql("""
                    INSERT INTO app_user (id, tenant_id, email, display_name, password_hash, role)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """).params(id, tenantId, normalized, displayName, passwords.encode(password), role).update();
        } catch (DuplicateKeyException e) {
            throw ApiException.conflict("user-exists", "A user with e-mail " + normalized + " already exists.");
        }
        return find(id).orElseThrow();
    }

    static void checkPassword(String password) {
        if (password == null || password.length() < MIN_PASSWORD_LENGTH) {
            throw ApiException.badRequest("password",
                    "password must be at least " + MIN_PASSWORD_LENGTH + " characters.");
        }
        if (password.length() > 200) {
            throw ApiException.badRequest("password", "password must be at most 200 characters.");
        }
    }

    /** Creates the user unless one with this e-mail exists; used by the demo and first start. */
    @Transactional
    public boolean ensure(String email, String displayName, String password, String role, String tenantName) {
        if (findByEmail(email).isPresent()) {
            return false;
        }
        create(email, displayName, password, role, tenantName);
        return true;
    }

    /** Replaces the password of an existing user (demo restarts with a new generated password). */
    @Transactional
    public void setPassword(UUID userId, String password) {
        checkPassword(password);
        jdbc.sql("UPDATE app_user SET password_hash = ?, failed_sign_ins = 0, locked_until = NULL WHERE id = ?")
                .params(passwords.encode(password), userId).update();
    }

    public Optional<User> find(UUID id) {
        return jdbc.sql(SELECT + " WHERE u.id = ?").param(id).query((rs, n) -> user(rs)).optional();
    }

    public Optional<User> findByEmail(String email) {
        return jdbc.sql(SELECT + " WHERE lower(u.email) = lower(?)").param(email == null ? "" : email.trim())
                .query((rs, n) -> user(rs)).optional();
    }

    public Optional<Credentials> credentials(String email) {
        return jdbc.sql(SELECT + " WHERE lower(u.email) = lower(?)").param(email == null ? "" : email.trim())
                .query((rs, n) -> {
                    java.sql.Timestamp locked = rs.getTimestamp("locked_until");
                    return new Credentials(user(rs), rs.getString("password_hash"),
                            locked == null ? null : locked.toInstant());
                }).optional();
    }

    public List<User> list(UUID tenantId) {
        if (tenantId == null) {
            return jdbc.sql(SELECT + " ORDER BY u.role = 'admin' DESC, t.name NULLS FIRST, u.email")
                    .query((rs, n) -> user(rs)).list();
        }
        return jdbc.sql(SELECT + " WHERE u.tenant_id = ? ORDER BY u.email").param(tenantId)
                .query((rs, n) -> user(rs)).list();
    }

    @Transactional
    public void disable(UUID id) {
        if (jdbc.sql("UPDATE app_user SET disabled_at = coalesce(disabled_at, now()) WHERE id = ?").param(id).update() == 0) {
            throw ApiException.notFound("User", id);
        }
    }

    /** Whether the user may still act: exists and is not disabled. Asked on every console request. */
    public boolean active(UUID id) {
        return jdbc.sql("SELECT disabled_at IS NULL FROM app_user WHERE id = ?").param(id).query(Boolean.class)
                .optional().orElse(false);
    }

    /** After {@code maxFailures} wrong passwords in a row the account waits {@code lockFor} before trying again. */
    @Transactional
    public void recordFailure(String email, int maxFailures, java.time.Duration lockFor) {
        jdbc.sql("""
                UPDATE app_user
                   SET failed_sign_ins = failed_sign_ins + 1,
                       locked_until = CASE WHEN failed_sign_ins + 1 >= ? THEN now() + make_interval(secs => ?)
                                           ELSE locked_until END
                 WHERE lower(email) = lower(?)
                """).params(maxFailures, (double) lockFor.toSeconds(), email == null ? "" : email.trim()).update();
    }

    @Transactional
    public void recordSuccess(UUID id) {
        jdbc.sql("UPDATE app_user SET failed_sign_ins = 0, locked_until = NULL, last_sign_in_at = now() WHERE id = ?")
                .param(id).update();
    }

    /** The projects a user may open: all of the tenant's for tenant users. */
    public List<ProjectRef> projectsOf(User user) {
        if (user.tenantId() == null) {
            return List.of();
        }
        return jdbc.sql("SELECT id, name FROM project WHERE tenant_id = ? ORDER BY name").param(user.tenantId())
                .query((rs, n) -> new ProjectRef(rs.getObject("id", UUID.class), rs.getString("name"))).list();
    }

    public record ProjectRef(UUID id, String name) {
    }
}
