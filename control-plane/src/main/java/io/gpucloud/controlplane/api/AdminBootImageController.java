package io.gpucloud.controlplane.api;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * Where the catalog's boot images are: per image, how many hosts hold it, how many lack it (by name),
 * and how many have not reported. A VM is placed only on a host holding its image, so an image missing
 * from a location's hosts is why its VMs wait there.
 */
@RestController
@RequestMapping("/admin/api/v1/boot-images")
class AdminBootImageController {

    /** Names of hosts lacking an image listed per image; the count is always whole. */
    static final int LACKING_LISTED = 100;

    private final BootImages images;
    private final JdbcClient jdbc;

    AdminBootImageController(BootImages images, JdbcClient jdbc) {
        this.images = images;
        this.jdbc = jdbc;
    }

    record Coverage(String name, String diskPath, boolean isDefault, int hostsHolding, int hostsLacking,
                    int hostsNotReporting, List<String> lacking) {
    }

    private record Host(String name, Set<String> images) {
    }

    @GetMapping
    Map<String, List<Coverage>> list(@RequestParam(required = false) String location) {
        List<Host> hosts = jdbc.sql("""
                SELECT name, boot_images FROM host WHERE CAST(? AS text) IS NULL OR location = ? ORDER BY name
                """)
                .params(location, location)
                .query((rs, n) -> new Host(rs.getString(1), rs.getArray(2) == null ? null
                        : new HashSet<>(List.of((String[]) rs.getArray(2).getArray()))))
                .list();
        List<Coverage> out = new ArrayList<>();
        for (BootImages.BootImage image : images.all()) {
            int holding = 0;
            int silent = 0;
            List<String> lacking = new ArrayList<>();
            int lackingCount = 0;
            for (Host h : hosts) {
                if (h.images() == null) {
                    silent++;
                } else if (h.images().contains(image.diskPath())) {
                    holding++;
                } else {
                    lackingCount++;
                    if (lacking.size() < LACKING_LISTED) {
                        lacking.add(h.name());
                    }
                }
            }
            out.add(new Coverage(image.name(), image.diskPath(), image.isDefault(), holding, lackingCount, silent,
                    lacking));
        }
        return Map.of("items", out);
    }
}
