package io.gpucloud.controlplane.tenancy;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/** Issues and checks bearer tokens. Only hashes are stored; the clear token is returned once. */
@Service
public class TokenService {

    private final JdbcClient jdbc;

    public TokenService(JdbcClient jdbc) {
        this.jdbc = jdbc;
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

    /** The principal for a live (unrevoked, unexpired) API token, touching its last-used time. */
    public Optional<Principal> authenticate(String clearToken) {
        String hash = Tokens.hash(clearToken);
        return jdbc.sql("""
                UPDATE api_token SET last_used_at = now()
                 WHERE token_hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
                RETURNING id, kind, name, project_id
                """)
                .param(hash)
                .query((rs, n) -> new Principal(
                        Principal.Kind.valueOf(rs.getString("kind").toUpperCase()),
                        rs.getObject("id", UUID.class),
                        rs.getObject("project_id", UUID.class),
                        rs.getString("name")))
                .optional();
    }

    /** The principal for a registered host's worker credential. */
    public Optional<Principal> authenticateHost(String clearToken) {
        return jdbc.sql("SELECT id, name FROM host WHERE credential_hash = ?")
                .param(Tokens.hash(clearToken))
                .query((rs, n) -> new Principal(Principal.Kind.HOST, rs.getObject("id", UUID.class), null,
                        rs.getString("name")))
                .optional();
    }
}
