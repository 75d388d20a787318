package io.gpucloud.worker.libvirt;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * Guest-side facts from {@code catalog/guest-devices.json}: per GPU model its compute capability, NVLinks
 * and largest BAR; per platform how GPUs sit in the guest's PCIe tree. Data, so a new board is a file edit.
 */
public final class GuestCatalog {

    /** How passed-through devices hang in the guest's PCIe tree. */
    public enum GuestPcie {
        /** One virtual switch per host PCIe switch: a GPU and the NIC beside it stay peers. */
        SWITCHES,
        /** Every device directly behind its own root port (B200). */
        ROOT_PORTS
    }

    /**
     * @param sm            compute capability × 10 (90 for Hopper), as NCCL's topology file writes it
     * @param nvlinks       NVLinks per GPU inside a multi-GPU partition
     * @param largestBarGiB the GPU's largest BAR (BAR1), which the guest firmware must map
     * @param linkSpeed     PCIe link speed as sysfs prints it ("32.0 GT/s PCIe")
     */
    public record GpuFacts(String model, int sm, int nvlinks, long largestBarGiB, String linkSpeed, int linkWidth) {
    }

    record PlatformJson(String platform, String guestPcie) {
    }

    record FileJson(List<GpuFacts> gpus, List<PlatformJson> platforms, String defaultGuestPcie,
                    String defaultLinkSpeed, int defaultLinkWidth) {
    }

    private static final JsonMapper JSON = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .disable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .build();
    private static volatile GuestCatalog builtin;

    private final Map<String, GpuFacts> gpus;
    private final Map<String, GuestPcie> platforms;
    private final GuestPcie defaultPcie;
    private final String defaultLinkSpeed;
    private final int defaultLinkWidth;

    private GuestCatalog(FileJson file) {
        this.gpus = file.gpus().stream().collect(Collectors.toUnmodifiableMap(GpuFacts::model, Function.identity()));
        this.platforms = file.platforms().stream().collect(Collectors.toUnmodifiableMap(PlatformJson::platform,
                p -> pcie(p.guestPcie())));
        this.defaultPcie = pcie(file.defaultGuestPcie());
        this.defaultLinkSpeed = file.defaultLinkSpeed();
        this.defaultLinkWidth = file.defaultLinkWidth();
    }

    public static GuestCatalog builtin() {
        GuestCatalog c = builtin;
        if (c == null) {
            try (InputStream in = GuestCatalog.class.getResourceAsStream("/catalog/guest-devices.json")) {
                if (in == null) {
                    throw new IllegalStateException("catalog/guest-devices.json missing from the classpath");
                }
                c = load(in);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            builtin = c;
        }
        return c;
    }

    public static GuestCatalog load(InputStream json) {
        return new GuestCatalog(JSON.readValue(json, FileJson.class));
    }

    public Optional<GpuFacts> gpu(String model) {
        return Optional.ofNullable(model).map(gpus::get);
    }

    /** The platform's guest PCIe layout; platforms not listed mirror host switches. */
    public GuestPcie guestPcie(String platform) {
        return platform == null ? defaultPcie : platforms.getOrDefault(platform, defaultPcie);
    }

    public String defaultLinkSpeed() {
        return defaultLinkSpeed;
    }

    public int defaultLinkWidth() {
        return defaultLinkWidth;
    }

    private static GuestPcie pcie(String name) {
        return switch (name) {
            case "switches" -> GuestPcie.SWITCHES;
            case "root-ports" -> GuestPcie.ROOT_PORTS;
            default -> throw new IllegalArgumentException("unknown guestPcie layout '" + name + "'");
        };
    }
}
