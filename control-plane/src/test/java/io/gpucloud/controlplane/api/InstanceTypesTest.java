package io.gpucloud.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.core.io.ByteArrayResource;
import org.springframework.core.io.ClassPathResource;

/** The production catalog (the integration tests use a smaller-shaped copy) loads and is complete. */
class InstanceTypesTest {

    @Test
    void theProductionCatalogHasEveryFamilyAndSize() {
        InstanceTypes types = new InstanceTypes(new ClassPathResource("catalog/instance-types.json"), null);
        assertThat(types.all()).extracting(InstanceTypes.InstanceType::name).containsExactly(
                "h100x1", "h100x2", "h100x4", "h100x8", "h200x1", "h200x2", "h200x4", "h200x8",
                "b200x1", "b200x2", "b200x4", "b200x8", "cpu4", "cpu32");
        assertThat(types.find("h200x4").orElseThrow().gpuModel()).isEqualTo("H200-SXM-141GB");
        assertThat(types.find("b200x8").orElseThrow().gpuModel()).isEqualTo("B200-SXM-180GB");
        assertThat(types.find("h100x8").orElseThrow().vcpus()).as("leaves the host a reserve").isLessThan(224);
        assertThat(types.find("cpu4").orElseThrow().gpuModel()).isNull();
        assertThat(types.all()).allSatisfy(t -> assertThat(t.pricePerHour().signum()).isPositive());
    }

    @Test
    void aBadCatalogStopsStartup() {
        for (String bad : List.of(
                "{\"instanceTypes\":[{\"name\":\"h100x3\",\"gpuModel\":\"H100-SXM5-80GB\",\"gpuCount\":3,\"vcpus\":1,"
                        + "\"memoryMiB\":2048,\"diskGiB\":1,\"pricePerHour\":1,\"numaPolicy\":\"required\","
                        + "\"keepsGpusWhenStopped\":true}]}",
                "{\"instanceTypes\":[{\"name\":\"x\",\"gpuCount\":0,\"vcpus\":1,\"memoryMiB\":2048,\"diskGiB\":1,"
                        + "\"pricePerHour\":1,\"numaPolicy\":\"required\",\"keepsGpusWhenStopped\":false,\"typo\":1}]}")) {
            assertThatThrownBy(() -> new InstanceTypes(new ByteArrayResource(bad.getBytes(StandardCharsets.UTF_8)), null))
                    .isInstanceOf(RuntimeException.class);
        }
    }
}
