package io.gpucloud.controlplane.tenancy;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/** Issues and checks bearer tokens. Only hashes are stored; the clear token is returned once. */
@Service
public class TokenService {

    /** Most credentials of hosts kept; beyond it the cache drops what has expired, then everything. */
    private static final int HOST_CACHE_MAX = 100_000;

    private final JdbcClient jdbc;
    private final long hostCacheTtlNanos;
    /** credential hash -> host principal, for {@link #authenticateHost}; see there. */
    private final Map<String, CachedHost> hostCache = new ConcurrentHashMap<>();

    private record CachedHost(Principal principal, long expiresAtNanos) {
    }

    public TokenService(JdbcClient jdbc,
                        @Value("${gpucloud.worker.credential-cache-ttl:5s}") Duration hostCredentialCacheTtl) {
        if (hostCredentialCacheTtl.isNegative()) {
            throw new IllegalArgumentException("gpucloud.worker.credential-cache-ttl must not be negative");
        }
        this.jdbc = jdbc;
        this.hostCacheTtlNanos = hostCredentialCacheTtl.toNanos();
    }

    public record IssuedToken(UUID id, String token) {
    }

    @Transactional
    public IssuedToken issueAdminToken(String name) {
        return insert("admin", name, null, null, Tokens.generate("admin"));
    }

    @Transactional
    public IssuedToken issueBootstrapToken(String name, Instant expiresAt) {
        return insert("bootstrap", name, null, expiresAt, Tokens.generate("bootstrap"));
    }

    @Transactional
    public IssuedToken issueProjectToken(String name, UUID projectId) {
        return issueProjectToken(name, projectId, null);
    }

    /** A project token that stops working at {@code expiresAt} (never when null). */
    @Transactional
    public IssuedToken issueProjectToken(String name, UUID projectId, Instant expiresAt) {
        return insert("project", name, projectId, expiresAt, Tokens.generate("project"));
    }

    /** What may be shown of a token after it was issued: never the secret or its hash. */
    public record TokenInfo(UUID id, String name, String prefix, Instant createdAt, Instant lastUsedAt,
            Instant expiresAt, Instant revokedAt) {
    }

    /** A project's tokens, revoked and expired ones included, oldest first. */
    public List<TokenInfo> listProjectTokens(UUID projectId) {
        return jdbc.sql("""
                SELECT id, name, token_prefix, created_at, last_used_at, expires_at, revoked_at
                  FROM api_token WHERE kind = 'project' AND project_id = ?
                 ORDER BY created_at, id
                """)
                .param(projectId)
                .query((rs, n) -> tokenInfo(rs)).list();
    }

    /** One of the project's tokens; empty when it does not exist or belongs to another project. */
    public Optional<TokenInfo> findProjectToken(UUID projectId, UUID tokenId) {
        return jdbc.sql("""
                SELECT id, name, token_prefix, created_at, last_used_at, expires_at, revoked_at
                  FROM api_token WHERE kind = 'project' AND project_id = ? AND id = ?
                """)
                .params(projectId, tokenId)
                .query((rs, n) -> tokenInfo(rs)).optional();
    }

    /**
     * Revokes one of the project's tokens (idempotent: an already revoked token keeps its first
     * revocation time); empty when the project has no such token.
     */
    @Transactional
    public Optional<TokenInfo> revokeProjectToken(UUID projectId, UUID tokenId) {
        jdbc.sql("""
                UPDATE api_token SET revoked_at = now()
                 WHERE kind = 'project' AND project_id = ? AND id = ? AND revoked_at IS NULL
                """)
                .params(projectId, tokenId).update();
        return findProjectToken(projectId, tokenId);
    }

    private static TokenInfo tokenInfo(ResultSet rs) throws SQLException {
        return new TokenInfo(rs.getObject("id", UUID.class), rs.getString("name"), rs.getString("token_prefix"),
                instant(rs.getTimestamp("created_at")), instant(rs.getTimestamp("last_used_at")),
                instant(rs.getTimestamp("expires_at")), instant(rs.getTimestamp("revoked_at")));
    }

    private static Instant instant(Timestamp t) {
        return t == null ? null : t.toInstant();
    }

    /** Installs a token whose clear text an operator chose (demo profile); idempotent. */
    @Transactional
    public void installKnownToken(String kind, String name, UUID projectId, String clearToken) {
        String hash = Tokens.hash(clearToken);
        boolean exists = jdbc.sql("SELECT count(*) FROM api_token WHERE token_hash = ?").param(hash)
                .query(Long.class).single() > 0;
        if (!exists) {
            insert(kind, name, projectId, null, clearToken);
        }
    }

    private IssuedToken insert(String kind, String name, UUID projectId, Instant expiresAt, String clear) {
        UUID id = UUID.randomUUID();
        jdbc.sql("""
                INSERT INTO api_token (id, kind, name, token_hash, token_prefix, project_id, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
                .params(id, kind, name, Tokens.hash(clear), Tokens.prefix(clear), projectId,
                        expiresAt == null ? null : java.sql.Timestamp.from(expiresAt))
                .update();
        return new IssuedToken(id, clear);
    }

    /**
     * How stale a token's {@code last_used_at} may get: a token in use is written at most this often
     * (and on its first use), not on every request. Clients that share a token (the provisioning
     * benchmark's 32) would otherwise all update one row, each waiting for the row lock of the one before.
     */
    static final Duration LAST_USED_PRECISION = Duration.ofSeconds(30);

    /**
     * The principal for a live (unrevoked, unexpired) API token, touching its last-used time (at most
     * every {@link #LAST_USED_PRECISION}). Revocation and expiry take effect on the next request.
     */
    public Optional<Principal> authenticate(String clearToken) {
        String hash = Tokens.hash(clearToken);
        return jdbc.sql("""
                WITH t AS (SELECT id, kind, name, project_id, last_used_at FROM api_token
                            WHERE token_hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())),
                     touched AS (UPDATE api_token a SET last_used_at = now() FROM t
                                  WHERE a.id = t.id
                                    AND (t.last_used_at IS NULL OR t.last_used_at < now() - make_interval(secs => ?)))
                SELECT id, kind, name, project_id FROM t
                """)
                .params(hash, (double) LAST_USED_PRECISION.toSeconds())
                .query((rs, n) -> new Principal(
                        Principal.Kind.valueOf(rs.getString("kind").toUpperCase()),
                        rs.getObject("id", UUID.class),
                        rs.getObject("project_id", UUID.class),
                        rs.getString("name")))
                .optional();
    }

    /**
     * The principal for a registered host's worker credential. Every worker request (long polls,
     * results, heartbeats) comes through here, so a credential found in the database is remembered
     * for {@code gpucloud.worker.credential-cache-ttl} (5 s by default; 0 turns the cache off). A
     * credential that stops being valid (the host re-registered and got a new one) is refused at once
     * by this instance, which {@link #forgetHost forgets} it on re-registration, and within that time
     * by any other instance. Unknown credentials are not remembered: each costs a lookup, as before.
     */
    public Optional<Principal> authenticateHost(String clearToken) {
        String hash = Tokens.hash(clearToken);
        long now = System.nanoTime();
        CachedHost cached = hostCache.get(hash);
        if (cached != null && now - cached.expiresAtNanos() < 0) {
            return Optional.of(cached.principal());
        }
        Optional<Principal> found = jdbc.sql("SELECT id, name FROM host WHERE credential_hash = ?")
                .param(hash)
                .query((rs, n) -> new Principal(Principal.Kind.HOST, rs.getObject("id", UUID.class), null,
                        rs.getString("name")))
                .optional();
        if (found.isEmpty()) {
            hostCache.remove(hash);
        } else if (hostCacheTtlNanos > 0) {
            if (hostCache.size() >= HOST_CACHE_MAX) {
                hostCache.values().removeIf(c -> now - c.expiresAtNanos() >= 0);
                if (hostCache.size() >= HOST_CACHE_MAX) {
                    hostCache.clear();
                }
            }
            hostCache.put(hash, new CachedHost(found.get(), now + hostCacheTtlNanos));
        }
        return found;
    }

    /**
     * Forgets the host's remembered credentials; called once a re-registration that replaced the
     * credential has committed, so this instance refuses the old one from then on.
     */
    public void forgetHost(UUID hostId) {
        hostCache.values().removeIf(c -> c.principal().subjectId().equals(hostId));
    }
}
