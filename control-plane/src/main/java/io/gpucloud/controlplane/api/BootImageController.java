package io.gpucloud.controlplane.api;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * The boot images a VM may be created from; the same for every project. Each names the locations
 * where a ready host holds it now: a VM of an image missing from its location waits until one does.
 */
@RestController
class BootImageController {

    private final BootImages images;
    private final JdbcClient jdbc;

    BootImageController(BootImages images, JdbcClient jdbc) {
        this.images = images;
        this.jdbc = jdbc;
    }

    record BootImageView(String name, String os, String description, String cudaVersion, String loginUser,
                         boolean isDefault, List<String> locations) {
    }

    private record ReadyHost(String location, Set<String> images) {
    }

    @GetMapping("/api/v1/boot-images")
    Map<String, List<BootImageView>> list() {
        // a host that has not reported its images is taken to hold every one, as placement takes it
        List<ReadyHost> hosts = jdbc.sql("SELECT location, boot_images FROM host WHERE state = 'ready'")
                .query((rs, n) -> new ReadyHost(rs.getString(1), rs.getArray(2) == null ? null
                        : new HashSet<>(List.of((String[]) rs.getArray(2).getArray()))))
                .list();
        List<BootImageView> out = new ArrayList<>();
        for (BootImages.BootImage i : images.all()) {
            Set<String> locations = new TreeSet<>();
            for (ReadyHost h : hosts) {
                if (h.images() == null || h.images().contains(i.diskPath())) {
                    locations.add(h.location());
                }
            }
            out.add(new BootImageView(i.name(), i.os(), i.description(), i.cudaVersion(), i.loginUser(),
                    i.isDefault(), List.copyOf(locations)));
        }
        return Map.of("items", out);
    }
}
