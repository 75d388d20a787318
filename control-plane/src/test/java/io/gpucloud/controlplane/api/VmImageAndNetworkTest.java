package io.gpucloud.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** POST /api/v1/vms with bootImage and userData, and the private address of a running VM. */
class VmImageAndNetworkTest extends CustomerApiTestBase {

    private static final String CLOUD_CONFIG = "#cloud-config\npackages:\n  - htop\nruncmd:\n  - echo 'héllo' > /tmp/x\n";

    @Test
    void bootImageAndUserDataAreValidatedStoredAndShownAsSizeAndHash() throws Exception {
        String token = projectToken("img-corp", "p");
        Response r = call("POST", "/api/v1/vms", token, Map.of("name", "deb", "instanceType", "h100x1",
                "location", "img-nowhere", "bootImage", "debian-12", "userData", CLOUD_CONFIG));
        assertThat(r.status()).as(r.body()).isEqualTo(201);
        String id = r.json().get("id").asString();
        JsonNode vm = call("GET", "/api/v1/vms/" + id, token, null).json();
        assertThat(vm.get("bootImage").asString()).isEqualTo("debian-12");
        byte[] bytes = CLOUD_CONFIG.getBytes(StandardCharsets.UTF_8);
        assertThat(vm.get("userData").get("sizeBytes").asInt()).isEqualTo(bytes.length);
        assertThat(vm.get("userData").get("sha256").asString())
                .isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)));
        assertThat(vm.toString()).doesNotContain("cloud-config").doesNotContain("htop");
        assertThat(vm.get("network").isNull()).as("no address before it is placed").isTrue();
        assertThat(jdbc.sql("SELECT user_data || '|' || boot_disk FROM vm WHERE id = ?::uuid").param(id)
                .query(String.class).single()).isEqualTo(CLOUD_CONFIG + "|/var/lib/gpucloud/images/debian-12.qcow2");

        // absent: the catalog's default image and no user data
        Response plain = call("POST", "/api/v1/vms", token, Map.of("name", "plain", "instanceType", "h100x1",
                "location", "img-nowhere"));
        assertThat(plain.json().get("bootImage").asString()).isEqualTo("ubuntu-24.04-cuda-12.8");
        assertThat(plain.json().get("userData").isNull()).isTrue();

        // the catalog
        JsonNode images = call("GET", "/api/v1/boot-images", token, null).json().get("items");
        assertThat(images).extracting(i -> i.get("name").asString())
                .containsExactly("ubuntu-24.04-cuda-12.8", "ubuntu-22.04-cuda-12.4", "debian-12");
        assertThat(images.toString()).doesNotContain("/var/lib");

        // invalid
        Response unknown = call("POST", "/api/v1/vms", token, Map.of("name", "x1", "instanceType", "h100x1",
                "bootImage", "windows-11"));
        assertFieldProblem(unknown, 422, "bootImage");
        assertThat(unknown.json().get("detail").asString()).contains("ubuntu-22.04-cuda-12.4");
        assertFieldProblem(call("POST", "/api/v1/vms", token, "{\"name\":\"x2\",\"instanceType\":\"h100x1\",\"bootImage\":[\"debian-12\"]}"),
                400, "bootImage");
        assertFieldProblem(call("POST", "/api/v1/vms", token,
                "{\"name\":\"x3\",\"instanceType\":\"h100x1\",\"userData\":{\"a\":1}}"), 400, "userData");
        Response big = call("POST", "/api/v1/vms", token, Map.of("name", "x4", "instanceType", "h100x1",
                "userData", "#cloud-config\n" + "#".repeat(16 * 1024)));
        assertFieldProblem(big, 422, "userData");
        assertThat(big.json().get("limitBytes").asInt()).isEqualTo(16384);
        // 16 KiB counted in UTF-8 bytes: 8193 two-byte characters are 16386 bytes
        assertFieldProblem(call("POST", "/api/v1/vms", token, Map.of("name", "x5", "instanceType", "h100x1",
                "userData", "é".repeat(8193))), 422, "userData");
        assertFieldProblem(call("POST", "/api/v1/vms", token, Map.of("name", "x6", "instanceType", "h100x1",
                "userData", "a\u0000b")), 422, "userData");
        // exactly 16 KiB is accepted
        Response edge = call("POST", "/api/v1/vms", token, Map.of("name", "x7", "instanceType", "h100x1",
                "location", "img-nowhere", "userData", "x".repeat(16 * 1024)));
        assertThat(edge.status()).as(edge.body()).isEqualTo(201);
        assertThat(jdbc.sql("SELECT count(*) FROM vm WHERE name IN ('x1','x2','x3','x4','x5','x6')")
                .query(Long.class).single()).isZero();
    }

    @Test
    void runningVmsGetDistinctPrivateAddressesOfTheirLocationReleasedOnDelete() {
        startHost("net-host-1", "net-1");
        String token = projectToken("net-corp", "p");
        String a = create(token, "a", null);
        String b = create(token, "b", "debian-12");
        JsonNode va = awaitState(token, a, "running");
        JsonNode vb = awaitState(token, b, "running");
        String ipA = va.get("network").get("privateIpv4").asString();
        String ipB = vb.get("network").get("privateIpv4").asString();
        assertThat(ipA).isNotEqualTo(ipB);
        String subnet = jdbc.sql("SELECT '10.' || subnet_index || '.' FROM location_subnet WHERE location = 'net-1'")
                .query(String.class).single();
        assertThat(List.of(ipA, ipB)).allSatisfy(ip -> assertThat(ip).startsWith(subnet));
        // the lowest free addresses from .0.10, in order of placement
        assertThat(List.of(ipA, ipB)).containsExactlyInAnyOrder(subnet + "0.10", subnet + "0.11");
        assertThat(va.get("network").get("sshCommand").asString()).isEqualTo("ssh ubuntu@" + ipA);
        assertThat(vb.get("network").get("sshCommand").asString()).isEqualTo("ssh debian@" + ipB);

        // the admin view shows it too, and the domain spec boots the image
        String admin = adminToken();
        JsonNode adminView = call("GET", "/admin/api/v1/vms/" + a, admin, null).json();
        assertThat(adminView.get("privateIpv4").asString()).isEqualTo(ipA);
        assertThat(adminView.get("addressLocation").asString()).isEqualTo("net-1");
        assertThat(jdbc.sql("""
                SELECT s->'domain'->>'bootImage' FROM worker_job, jsonb_array_elements(payload->'steps') s
                 WHERE vm_id = ?::uuid AND kind = 'SEQUENCE' AND s->>'kind' = 'DEFINE_DOMAIN'
                """).param(b).query(String.class).single()).isEqualTo("/var/lib/gpucloud/images/debian-12.qcow2");
        JsonNode init = json.readTree(jdbc.sql("""
                SELECT s->'domain'->'guestInit' FROM worker_job, jsonb_array_elements(payload->'steps') s
                 WHERE vm_id = ?::uuid AND kind = 'SEQUENCE' AND s->>'kind' = 'DEFINE_DOMAIN'
                """).param(b).query(String.class).single());
        assertThat(init.get("hostname").asString()).isEqualTo("b");
        assertThat(init.get("privateIpv4").asString()).isEqualTo(ipB);
        assertThat(init.get("prefixLength").asInt()).isEqualTo(16);
        assertThat(init.get("userData").asString()).isEqualTo("#cloud-config\nhostname: b\n");

        // stopped keeps the address; deleted releases it, and the next VM reuses the lowest free one
        call("POST", "/api/v1/vms/" + a + "/stop", token, null);
        assertThat(awaitState(token, a, "stopped").get("network").get("privateIpv4").asString()).isEqualTo(ipA);
        call("DELETE", "/api/v1/vms/" + a, token, null);
        JsonNode deleted = awaitState(token, a, "deleted");
        assertThat(deleted.get("network").isNull()).isTrue();
        assertThat(jdbc.sql("SELECT count(*) FROM vm_address WHERE vm_id = ?::uuid").param(a).query(Long.class).single())
                .isZero();
        String c = create(token, "c", null);
        assertThat(awaitState(token, c, "running").get("network").get("privateIpv4").asString()).isEqualTo(ipA);

        // the database refuses a second VM with the same address in the same location
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> jdbc.sql("""
                INSERT INTO vm_address (vm_id, location, address) VALUES (?::uuid, 'net-1', ?::inet)
                """).params(a, ipB).update()).isInstanceOf(org.springframework.dao.DataIntegrityViolationException.class);
    }

    private String create(String token, String name, String image) {
        Map<String, Object> body = new java.util.HashMap<>(Map.of("name", name, "instanceType", "h100x1",
                "location", "net-1"));
        if (image != null) {
            body.put("bootImage", image);
            body.put("userData", "#cloud-config\nhostname: " + name + "\n");
        }
        Response r = call("POST", "/api/v1/vms", token, body);
        assertThat(r.status()).as(r.body()).isEqualTo(201);
        return r.json().get("id").asString();
    }
}
