package io.gpucloud.worker.catalog;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.protocol.DeviceKind;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class PciCatalogTest {

    private final PciCatalog catalog = PciCatalog.builtin();

    @Test
    void knownGpusNvswitchesAndNicsByTheirIds() {
        assertThat(catalog.lookup("10de", "2330", "030200")).contains(new DeviceType(DeviceKind.GPU, "H100-SXM5-80GB", false));
        assertThat(catalog.lookup("10de", "20b0", "030200")).contains(new DeviceType(DeviceKind.GPU, "A100-SXM4-40GB", false));
        assertThat(catalog.lookup("10de", "20b2", "030200")).contains(new DeviceType(DeviceKind.GPU, "A100-SXM4-80GB", false));
        assertThat(catalog.lookup("10de", "2901", "030200")).contains(new DeviceType(DeviceKind.GPU, "B200-SXM-180GB", false));
        assertThat(catalog.lookup("10de", "22a3", "068000")).contains(new DeviceType(DeviceKind.NVSWITCH, "NVSwitch-Gen3", false));
        assertThat(catalog.lookup("10de", "1af1", "068000")).contains(new DeviceType(DeviceKind.NVSWITCH, "NVSwitch-Gen2", false));
        assertThat(catalog.lookup("15b3", "1021", "020700")).contains(new DeviceType(DeviceKind.NIC, "ConnectX-7", false));
    }

    @Test
    void bothH200DeviceIdsAreTheSameModel() {
        assertThat(catalog.lookup("10de", "2335", "030200")).isEqualTo(catalog.lookup("10de", "2336", "030200"));
        assertThat(catalog.lookup("10de", "2336", "030200").orElseThrow().model()).isEqualTo("H200-SXM-141GB");
    }

    @Test
    void idsAreReadInTheKernelsSpellingToo() {
        assertThat(catalog.lookup("0x10DE", "0x2330", "0x030200").orElseThrow().model()).isEqualTo("H100-SXM5-80GB");
    }

    @Test
    void theBroadcomSwitchIsABridgeMarkedAsSwitch() {
        DeviceType pex = catalog.lookup("1000", "c030", "060400").orElseThrow();
        assertThat(pex.kind()).isEqualTo(DeviceKind.BRIDGE);
        assertThat(pex.pcieSwitch()).isTrue();
        assertThat(pex.model()).isEqualTo("PEX890xx");
    }

    @Test
    void unlistedNvidiaGpusAreUnknownGpusButOtherVendorsVgaIsNothing() {
        assertThat(catalog.lookup("10de", "26b9", "030200")).contains(new DeviceType(DeviceKind.GPU, "unknown", false));
        assertThat(catalog.lookup("10de", "2204", "030000")).contains(new DeviceType(DeviceKind.GPU, "unknown", false));
        assertThat(catalog.lookup("1a03", "2000", "030000")).isEmpty(); // the BMC's ASPEED VGA
        assertThat(catalog.lookup("10de", "22ba", "040300")).isEmpty(); // a GPU's audio function
    }

    @Test
    void nvmeAndBridgesByClass() {
        assertThat(catalog.lookup("144d", "a824", "010802")).contains(new DeviceType(DeviceKind.NVME, null, false));
        assertThat(catalog.lookup("8086", "352a", "060400")).contains(new DeviceType(DeviceKind.BRIDGE, null, false));
        assertThat(catalog.lookup("8086", "1521", "020000")).isEmpty(); // management LOM: not ours to hand out
    }

    @Test
    void anOperatorCatalogAddsADeviceWithoutCode() {
        String json = """
                { "devices": [ { "vendor": "10de", "device": "2331", "kind": "GPU", "model": "H100-PCIe-80GB" } ],
                  "classes": [] }
                """;
        PciCatalog custom = PciCatalog.load(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)));
        assertThat(custom.lookup("10de", "2331", "030200").orElseThrow().model()).isEqualTo("H100-PCIe-80GB");
        assertThat(catalog.lookup("10de", "2331", "030200").orElseThrow().model()).isEqualTo("unknown");
    }
}
