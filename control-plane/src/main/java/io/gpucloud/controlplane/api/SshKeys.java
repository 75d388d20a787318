package io.gpucloud.controlplane.api;

import io.gpucloud.controlplane.web.ApiException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.http.HttpStatus;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/** A project's SSH public keys, validated as OpenSSH keys and identified by their SHA256 fingerprint. */
@Service
public class SshKeys {

    static final Pattern NAME = Pattern.compile("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$");
    private static final Set<String> TYPES = Set.of("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256",
            "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521");
    private static final int MAX_KEY_CHARS = 16 * 1024;
    private static final Pattern COMMENT = Pattern.compile("^[\\x20-\\x7e]{0,256}$");

    private final JdbcClient jdbc;

    SshKeys(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    public record SshKey(UUID id, String name, String publicKey, String fingerprint, Instant createdAt) {
    }

    /** A key as written in authorized_keys: normalized text and fingerprint. */
    record ParsedKey(String text, String fingerprint) {
    }

    /**
     * Checks that {@code text} is "type base64 [comment]" and that the base64 blob really is a key
     * of that type (its first field names the type), so garbage never reaches a guest.
     */
    static ParsedKey parse(String text, String field) {
        if (text == null || text.isBlank()) {
            throw ApiException.badRequest(field, field + " is required.");
        }
        if (text.length() > MAX_KEY_CHARS) {
            throw ApiException.badRequest(field, field + " is longer than " + MAX_KEY_CHARS + " characters.");
        }
        String[] parts = text.strip().split("[ \\t]+", 3);
        if (parts.length < 2 || !TYPES.contains(parts[0])) {
            throw ApiException.badRequest(field, field + " must be an OpenSSH public key of type " + TYPES.stream().sorted().toList() + ".");
        }
        byte[] blob;
        try {
            blob = Base64.getDecoder().decode(parts[1]);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(field, field + " has a key body that is not valid base64.");
        }
        if (!parts[0].equals(blobType(blob))) {
            throw ApiException.badRequest(field, field + " has a key body that is not a " + parts[0] + " key.");
        }
        if (parts[0].equals("ssh-ed25519") && blob.length != 4 + 11 + 4 + 32) {
            throw ApiException.badRequest(field, field + " is not a 32-byte ed25519 key.");
        }
        String comment = parts.length == 3 ? parts[2].strip() : "";
        if (!COMMENT.matcher(comment).matches()) {
            throw ApiException.badRequest(field, field + " has a comment with control or non-ASCII characters.");
        }
        String normalized = parts[0] + " " + parts[1] + (comment.isEmpty() ? "" : " " + comment);
        return new ParsedKey(normalized, fingerprint(blob));
    }

    private static String blobType(byte[] blob) {
        if (blob.length < 4) {
            return null;
        }
        int len = ByteBuffer.wrap(blob, 0, 4).getInt();
        if (len <= 0 || len > 64 || 4 + len > blob.length) {
            return null;
        }
        return new String(blob, 4, len, StandardCharsets.US_ASCII);
    }

    /** The same text {@code ssh-keygen -lf} prints: SHA256 of the blob, base64 without padding. */
    private static String fingerprint(byte[] blob) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(blob);
            return "SHA256:" + Base64.getEncoder().withoutPadding().encodeToString(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JRE", e);
        }
    }

    @Transactional
    public SshKey create(UUID projectId, String name, String publicKey) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw ApiException.badRequest("name",
                    "name must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }
        ParsedKey key = parse(publicKey, "publicKey");
        UUID id = UUID.randomUUID();
        try {
            jdbc.sql("INSERT INTO ssh_key (id, project_id, name, public_key, fingerprint) VALUES (?, ?, ?, ?, ?)")
                    .params(id, projectId, name, key.text(), key.fingerprint()).update();
        } catch (DuplicateKeyException e) {
            throw new ApiException(HttpStatus.CONFLICT, "name-taken", "Conflict",
                    "An SSH key named '" + name + "' already exists in this project.", Map.of("field", "name"));
        }
        return get(projectId, id);
    }

    public List<SshKey> list(UUID projectId) {
        return jdbc.sql("SELECT * FROM ssh_key WHERE project_id = ? ORDER BY name").param(projectId)
                .query((rs, n) -> row(rs)).list();
    }

    SshKey get(UUID projectId, UUID id) {
        return jdbc.sql("SELECT * FROM ssh_key WHERE project_id = ? AND id = ?").params(projectId, id)
                .query((rs, n) -> row(rs)).optional()
                .orElseThrow(() -> ApiException.notFound("SSH key", id));
    }

    @Transactional
    public void delete(UUID projectId, UUID id) {
        if (jdbc.sql("DELETE FROM ssh_key WHERE project_id = ? AND id = ?").params(projectId, id).update() == 0) {
            throw ApiException.notFound("SSH key", id);
        }
    }

    /** The key texts of {@code ids}, all of which must belong to the project. */
    List<String> resolve(UUID projectId, List<UUID> ids) {
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++) {
            UUID id = ids.get(i);
            String field = "sshKeyIds[" + i + "]";
            if (id == null) {
                throw ApiException.badRequest(field, field + " must not be null.");
            }
            keys.add(jdbc.sql("SELECT public_key FROM ssh_key WHERE project_id = ? AND id = ?").params(projectId, id)
                    .query(String.class).optional()
                    .orElseThrow(() -> ApiException.badRequest(field, "No SSH key with id " + id + " exists in this project.")));
        }
        return keys;
    }

    private static SshKey row(java.sql.ResultSet rs) throws java.sql.SQLException {
        Timestamp created = rs.getTimestamp("created_at");
        return new SshKey(rs.getObject("id", UUID.class), rs.getString("name"), rs.getString("public_key"),
                rs.getString("fingerprint"), created.toInstant());
    }
}
