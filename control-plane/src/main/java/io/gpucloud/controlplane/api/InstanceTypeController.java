package io.gpucloud.controlplane.api;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** The catalog with what could be placed now; the same for every project. */
@RestController
class InstanceTypeController {

    private final InstanceTypes types;

    InstanceTypeController(InstanceTypes types) {
        this.types = types;
    }

    record InstanceTypeView(String name, String gpuModel, int gpuCount, int vcpus, long memoryMiB, int diskGiB,
                            BigDecimal pricePerHour, String currency, String numaPolicy, boolean keepsGpusWhenStopped,
                            List<InstanceTypes.Availability> availability) {
    }

    @GetMapping("/api/v1/instance-types")
    Map<String, List<InstanceTypeView>> list() {
        Map<String, List<InstanceTypes.Availability>> availability = types.availability();
        return Map.of("items", types.all().stream()
                .map(t -> new InstanceTypeView(t.name(), t.gpuModel(), t.gpuCount(), t.vcpus(), t.memoryMiB(),
                        t.diskGiB(), t.pricePerHour(), "USD", t.numaPolicy(), t.keepsGpusWhenStopped(),
                        availability.getOrDefault(t.name(), List.of())))
                .toList());
    }
}
