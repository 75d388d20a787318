package io.gpucloud.worker.agent;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;

/**
 * Keeps the host identity and credential across worker restarts, readable by root only, so a
 * restarted worker resumes as the same host without a bootstrap token.
 */
public class CredentialStore {

    public record Identity(UUID hostId, String credential) {
    }

    private final Path file;

    public CredentialStore(Path file) {
        this.file = file;
    }

    public Optional<Identity> load() {
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        Properties p = new Properties();
        try (var in = Files.newInputStream(file)) {
            p.load(in);
        } catch (IOException e) {
            return Optional.empty();
        }
        String id = p.getProperty("hostId");
        String credential = p.getProperty("credential");
        if (id == null || credential == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(new Identity(UUID.fromString(id), credential));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    public void save(Identity identity) {
        Properties p = new Properties();
        p.setProperty("hostId", identity.hostId().toString());
        p.setProperty("credential", identity.credential());
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            try (var out = Files.newOutputStream(tmp)) {
                p.store(out, "gpu host-worker identity; keep secret");
            }
            try {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
            } catch (UnsupportedOperationException ignored) {
                // non-POSIX file systems (developer laptops) keep their default permissions
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save worker identity to " + file, e);
        }
    }
}
