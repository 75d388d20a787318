package io.gpucloud.controlplane.api;

import java.util.List;
import java.util.Map;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * The boot images a VM may be created from; the same for every project. Each names the locations
 * where a ready host holds it now: a VM of an image missing from its location waits until one does.
 */
@RestController
class BootImageController {

    private final BootImages images;

    BootImageController(BootImages images) {
        this.images = images;
    }

    record BootImageView(String name, String os, String description, String cudaVersion, String loginUser,
                         boolean isDefault, List<String> locations) {
    }

    @GetMapping("/api/v1/boot-images")
    Map<String, List<BootImageView>> list() {
        Map<String, List<String>> locations = images.locations();
        return Map.of("items", images.all().stream()
                .map(i -> new BootImageView(i.name(), i.os(), i.description(), i.cudaVersion(), i.loginUser(),
                        i.isDefault(), locations.getOrDefault(i.name(), List.of())))
                .toList());
    }
}
