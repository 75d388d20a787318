package io.gpucloud.worker.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpucloud.worker.catalog.VirtualizationCatalog.InvalidParameter;
import io.gpucloud.worker.catalog.VirtualizationCatalog.MigPlacement;
import io.gpucloud.worker.catalog.VirtualizationCatalog.Mode;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class VirtualizationCatalogTest {

    private final VirtualizationCatalog catalog = VirtualizationCatalog.builtin();

    private Mode mode(String id) {
        return catalog.mode(id).orElseThrow();
    }

    @Test
    void modesFitHostsByVendorAndModel() {
        assertThat(catalog.modeIds()).containsExactly("passthrough", "mig", "hami", "cambricon_dsmlu",
                "cambricon_env_share");
        assertThat(catalog.vendorOfPciVendor("10de")).contains("nvidia");
        assertThat(VirtualizationCatalog.applies(mode("mig"), "nvidia", "H200-SXM-141GB")).isTrue();
        assertThat(VirtualizationCatalog.applies(mode("mig"), "nvidia", "L40S")).isFalse();
        assertThat(VirtualizationCatalog.applies(mode("hami"), "nvidia", "L40S")).isTrue();
        assertThat(VirtualizationCatalog.applies(mode("cambricon_env_share"), "nvidia", "H100-SXM5-80GB")).isFalse();
        assertThat(VirtualizationCatalog.applies(mode("cambricon_env_share"), "cambricon", "MLU370")).isTrue();
    }

    @Test
    void migProfilesPackFirstFitInOrder() throws Exception {
        var h100 = catalog.migGpu("H100-SXM5-80GB").orElseThrow();
        assertThat(catalog.pack(List.of(19, 19, 9), h100)).containsExactly(new MigPlacement(19, 0),
                new MigPlacement(19, 1), new MigPlacement(9, 4));
        assertThat(catalog.pack(List.of(5, 9), h100)).containsExactly(new MigPlacement(5, 0), new MigPlacement(9, 4));
        assertThat(catalog.pack(List.of(19, 19, 19, 19, 19, 19, 19), h100)).hasSize(7);
        assertThatThrownBy(() -> catalog.pack(List.of(14, 5), h100)).isInstanceOf(InvalidParameter.class)
                .hasMessageContaining("no free run of 4 memory slices");
        assertThatThrownBy(() -> catalog.pack(List.of(0, 19), h100)).hasMessageContaining("compute slices");
        assertThatThrownBy(() -> catalog.pack(List.of(5, 5), h100)).hasMessageContaining("at most 1 per GPU");
        assertThat(catalog.migGpu("B200-SXM-180GB").orElseThrow().profileName(9)).isEqualTo("3g.90gb");
    }

    @Test
    void parametersAreCheckedAndDefaulted() throws Exception {
        assertThat(catalog.validate(mode("hami"), Map.of("deviceSplitCount", 8), "H100-SXM5-80GB"))
                .containsEntry("deviceSplitCount", 8).containsEntry("deviceMemoryScaling", 1.0)
                .containsEntry("deviceCoreScaling", 1.0);
        assertThat(catalog.validate(mode("mig"), Map.of(), "H100-SXM5-80GB")).containsEntry("profiles", List.of(0));
        assertThat(catalog.validate(mode("passthrough"), null, "H100-SXM5-80GB")).isEmpty();
        for (var bad : List.<Map<String, Object>>of(Map.of("deviceSplitCount", 0), Map.of("deviceSplitCount", 2.5),
                Map.of("deviceMemoryScaling", 0), Map.of("deviceCoreScaling", 4.01), Map.of("deviceCoreScaling", "2"))) {
            String field = bad.keySet().iterator().next();
            assertThatThrownBy(() -> catalog.validate(mode("hami"), bad, "H100-SXM5-80GB"))
                    .isInstanceOf(InvalidParameter.class).extracting(e -> ((InvalidParameter) e).field()).isEqualTo(field);
        }
        assertThatThrownBy(() -> catalog.validate(mode("hami"), Map.of("profiles", List.of(0)), "H100-SXM5-80GB"))
                .extracting(e -> ((InvalidParameter) e).field()).isEqualTo("profiles");
        assertThatThrownBy(() -> catalog.validate(mode("mig"), Map.of("profiles", List.of(9, 9, 19)), "H100-SXM5-80GB"))
                .extracting(e -> ((InvalidParameter) e).field()).isEqualTo("profiles");
    }
}
