package io.gpucloud.worker.libvirt;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.protocol.job.DomainSpec.GuestInit;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** What cloud-init in the guest reads from the seed: the customer's keys, hostname, user data and address. */
class CloudInitSeedTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final UUID VM = UUID.fromString("6f1c2a9e-0b7d-4e55-9a31-2c8d4f0e1b77");

    @Test
    void keysHostnameUserDataAndThePrivateAddressOnTheManagementNic() {
        // a key comment with a quote and a colon: in hand-written YAML it would break the document
        String key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0 ana: \"laptop\"";
        GuestInit init = new GuestInit("train-01", "#cloud-config\npackages: [htop]\n", "10.1.0.10", 16, List.of(key));
        String mac = CloudInitSeed.macOf(VM);

        CloudInitSeed.Files files = CloudInitSeed.render(VM, init, mac, null);

        assertThat(files.byName()).containsOnlyKeys("meta-data", "user-data", "network-config");
        JsonNode meta = JSON.readTree(files.byName().get("meta-data"));
        assertThat(meta.get("instance-id").asString()).isEqualTo(VM.toString());
        assertThat(meta.get("local-hostname").asString()).isEqualTo("train-01");
        assertThat(meta.get("public-keys").get(0).asString()).isEqualTo(key);
        assertThat(files.byName().get("user-data")).as("the customer's text, unchanged")
                .isEqualTo("#cloud-config\npackages: [htop]\n");
        JsonNode net = JSON.readTree(files.byName().get("network-config"));
        assertThat(net.get("version").asInt()).isEqualTo(2);
        JsonNode nic = net.get("ethernets").get("mgmt0");
        assertThat(nic.get("match").get("macaddress").asString()).isEqualTo(mac);
        assertThat(nic.get("dhcp4").asBoolean()).as("the default route still comes from DHCP").isTrue();
        assertThat(nic.get("addresses").get(0).asString()).isEqualTo("10.1.0.10/16");
    }

    @Test
    void withoutUserDataAddressOrNicTheSeedStillBootsCloudInit() {
        GuestInit init = new GuestInit("cpu-01", null, null, 16, List.of());

        CloudInitSeed.Files files = CloudInitSeed.render(VM, init, CloudInitSeed.macOf(VM), null);

        assertThat(files.byName()).containsOnlyKeys("meta-data", "user-data");
        assertThat(files.byName().get("user-data")).isEqualTo(CloudInitSeed.EMPTY_USER_DATA);
        assertThat(JSON.readTree(files.byName().get("meta-data")).has("public-keys")).isFalse();
        assertThat(CloudInitSeed.render(VM, new GuestInit("x", "  ", "10.1.0.11", 16, List.of()), null, null).byName())
                .as("no management NIC: nothing to match an address to").doesNotContainKey("network-config")
                .containsEntry("user-data", CloudInitSeed.EMPTY_USER_DATA);
    }

    @Test
    void aGpuVmsVendorDataWritesItsNcclTopologyAndPointsNcclAtIt() {
        String topology = "<system version=\"1\">\n  <cpu numaid=\"0\" affinity=\"0000ffff\"/>\n</system>\n";
        CloudInitSeed.Files files = CloudInitSeed.render(VM, new GuestInit("gpu-01", null, null, 16, List.of()), null,
                topology);

        String vendor = files.byName().get("vendor-data");
        assertThat(vendor).startsWith("#cloud-config\n");
        JsonNode writeFiles = JSON.readTree(vendor.substring("#cloud-config\n".length())).get("write_files");
        assertThat(writeFiles.get(0).get("path").asString()).isEqualTo("/etc/nccl/topo.xml");
        assertThat(writeFiles.get(0).get("content").asString()).isEqualTo(topology);
        assertThat(writeFiles.get(1).get("path").asString()).isEqualTo("/etc/nccl.conf");
        assertThat(writeFiles.get(1).get("content").asString()).isEqualTo("NCCL_TOPO_FILE=/etc/nccl/topo.xml\n");
        assertThat(files.byName().get("user-data")).as("the customer's user data is left alone")
                .isEqualTo(CloudInitSeed.EMPTY_USER_DATA);
        assertThat(CloudInitSeed.render(VM, new GuestInit("cpu-01", null, null, 16, List.of()), null, null).byName())
                .as("no GPUs, nothing for NCCL").doesNotContainKey("vendor-data");
    }

    @Test
    void theMacIsQemusPrefixFixedByTheVmAndDiffersBetweenVms() {
        assertThat(CloudInitSeed.macOf(VM)).isEqualTo(CloudInitSeed.macOf(UUID.fromString(VM.toString())))
                .matches("52:54:00(:[0-9a-f]{2}){3}");
        assertThat(CloudInitSeed.macOf(VM)).isNotEqualTo(CloudInitSeed.macOf(UUID.randomUUID()));
    }
}
