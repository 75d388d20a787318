package io.gpucloud.controlplane.api;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.core.io.Resource;
import org.springframework.stereotype.Service;
import tools.jackson.databind.json.JsonMapper;

/**
 * The boot-image catalog: data ({@code catalog/boot-images.json}, or the file named by
 * {@code gpucloud.api.boot-images}), checked once at startup so that a bad file stops the service.
 * Exactly one image is the default, used when a VM is created without {@code bootImage}.
 */
@Service
public class BootImages {

    public record BootImage(String name, String os, String description, String cudaVersion, String loginUser,
                     String diskPath, boolean isDefault) {
    }

    private final Map<String, BootImage> byName = new LinkedHashMap<>();
    private final org.springframework.jdbc.core.simple.JdbcClient jdbc;
    private final BootImage defaultImage;

    BootImages(@Value("${gpucloud.api.boot-images:classpath:catalog/boot-images.json}") Resource file,
               org.springframework.jdbc.core.simple.JdbcClient jdbc) {
        this.jdbc = jdbc;
        JsonMapper mapper = JsonMapper.builder().build();
        BootImage found = null;
        try (InputStream in = file.getInputStream()) {
            var root = mapper.readTree(in);
            for (var node : root.path("bootImages")) {
                BootImage image = new BootImage(text(node, "name"), text(node, "os"), text(node, "description"),
                        node.path("cudaVersion").isNull() ? null : text(node, "cudaVersion"),
                        text(node, "loginUser"), text(node, "diskPath"), node.path("default").asBoolean(false));
                check(image, file);
                if (byName.putIfAbsent(image.name(), image) != null) {
                    throw new IllegalStateException("boot image " + image.name() + " is listed twice in " + file);
                }
                if (image.isDefault()) {
                    if (found != null) {
                        throw new IllegalStateException("more than one default boot image in " + file);
                    }
                    found = image;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the boot-image catalog " + file, e);
        }
        if (found == null) {
            throw new IllegalStateException("no default boot image in " + file);
        }
        this.defaultImage = found;
    }

    private static String text(tools.jackson.databind.JsonNode node, String field) {
        var v = node.get(field);
        return v == null || v.isNull() ? null : v.asString();
    }

    private static void check(BootImage i, Resource file) {
        boolean ok = i.name() != null && i.name().matches("[a-z0-9][a-z0-9.-]{0,62}")
                && i.os() != null && !i.os().isBlank()
                && i.loginUser() != null && i.loginUser().matches("[a-z_][a-z0-9_-]{0,31}")
                && i.diskPath() != null && i.diskPath().startsWith("/") && !i.diskPath().contains("..");
        if (!ok) {
            throw new IllegalStateException("invalid boot image in " + file + ": " + i);
        }
    }

    public List<BootImage> all() {
        return List.copyOf(byName.values());
    }

    /**
     * Per image name, the locations (sorted) where a ready host holds it now; a host that has not
     * reported its images is taken to hold every one, as placement takes it.
     */
    public Map<String, List<String>> locations() {
        record ReadyHost(String location, java.util.Set<String> images) {
        }
        List<ReadyHost> hosts = jdbc.sql("SELECT location, boot_images FROM host WHERE state = 'ready'")
                .query((rs, n) -> new ReadyHost(rs.getString(1), rs.getArray(2) == null ? null
                        : new java.util.HashSet<>(List.of((String[]) rs.getArray(2).getArray()))))
                .list();
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (BootImage image : byName.values()) {
            java.util.Set<String> locations = new java.util.TreeSet<>();
            for (ReadyHost h : hosts) {
                if (io.gpucloud.placement.HostSnapshot.holdsBootImage(h.images(), image.diskPath())) {
                    locations.add(h.location());
                }
            }
            out.put(image.name(), List.copyOf(locations));
        }
        return out;
    }

    Optional<BootImage> find(String name) {
        return Optional.ofNullable(name == null ? null : byName.get(name));
    }

    BootImage defaultImage() {
        return defaultImage;
    }

    /** The login user for SSH of an image, or "ubuntu" for a VM whose image left the catalog. */
    String loginUser(String name) {
        return find(name).map(BootImage::loginUser).orElse("ubuntu");
    }
}
