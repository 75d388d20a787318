package io.gpucloud.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * Workers report which boot images their hosts hold; a VM goes only to a host holding its image, and
 * waits, saying why, until one does.
 */
class BootImagePlacementTest extends CustomerApiTestBase {

    @org.springframework.beans.factory.annotation.Autowired
    io.micrometer.core.instrument.MeterRegistry meters;

    private static final String IMAGES = "/var/lib/gpucloud/images/";
    private static final String UBUNTU = IMAGES + "ubuntu-24.04-cuda-12.8.qcow2";
    private static final String OLD_UBUNTU = IMAGES + "ubuntu-22.04-cuda-12.4.qcow2";
    private static final String DEBIAN = IMAGES + "debian-12.qcow2";

    @Test
    void aVmGoesWhereItsImageIsAndWaitsWithAReasonUntilAHostHasIt() throws InterruptedException {
        List<String> onA = new CopyOnWriteArrayList<>(List.of(DEBIAN));
        startHost("img-a", "img-1", () -> List.copyOf(onA));
        startHost("img-b", "img-1", () -> List.of(UBUNTU, UBUNTU)); // duplicates are one image
        await(() -> jdbc.sql("SELECT count(*) FROM host WHERE location = 'img-1' AND boot_images IS NOT NULL")
                .query(Long.class).single() == 2, "both hosts to report their images");
        assertThat(imagesOf("img-b")).containsExactly(UBUNTU);
        String metrics = "";
        // sampled every 500 ms here: wait for a sample taken after both reports
        for (int i = 0; i < 50 && !(metrics.contains("gpucloud_boot_image_hosts{image=\"" + DEBIAN + "\"}")
                && metrics.contains("gpucloud_boot_image_hosts{image=\"" + UBUNTU + "\"}")); i++) {
            Thread.sleep(100);
            metrics = getText("/actuator/prometheus");
        }
        assertThat(metrics).as("ready hosts holding each image, for alerts").contains(
                "gpucloud_boot_image_hosts{image=\"" + DEBIAN + "\"}",
                "gpucloud_boot_image_hosts{image=\"" + UBUNTU + "\"}");
        JsonNode detail = call("GET", "/admin/api/v1/hosts/" + hostId("img-a"), adminToken(), null).json();
        assertThat(detail.get("bootImages")).extracting(JsonNode::asString).containsExactly(DEBIAN);
        // the fleet view an operator checks first: which hosts of the location lack which image
        JsonNode coverage = call("GET", "/admin/api/v1/boot-images?location=img-1", adminToken(), null).json();
        JsonNode oldUbuntu = null;
        for (JsonNode image : coverage.get("items")) {
            if (image.get("name").asString().equals("ubuntu-22.04-cuda-12.4")) {
                oldUbuntu = image;
            } else if (image.get("name").asString().equals("debian-12")) {
                assertThat(image.get("hostsHolding").asInt()).isEqualTo(1);
                assertThat(image.get("lacking")).extracting(JsonNode::asString).containsExactly("img-b");
            }
        }
        assertThat(oldUbuntu).isNotNull();
        assertThat(oldUbuntu.get("hostsHolding").asInt()).isZero();
        assertThat(oldUbuntu.get("hostsLacking").asInt()).isEqualTo(2);
        assertThat(oldUbuntu.get("hostsNotReporting").asInt()).isZero();
        assertThat(oldUbuntu.get("lacking")).extracting(JsonNode::asString).containsExactly("img-a", "img-b");
        String projectToken = projectToken("img-place", "p");
        assertThat(call("GET", "/admin/api/v1/boot-images", projectToken, null).status())
                .as("operators only").isIn(401, 403);

        String token = projectToken("img-place", "p");
        assertThat(locationsOf(token, "debian-12")).contains("img-1");
        assertThat(locationsOf(token, "ubuntu-22.04-cuda-12.4")).as("no host of img-1 holds it").doesNotContain("img-1");
        String debian = create(token, "deb", "debian-12");
        String ubuntu = create(token, "ubu", null); // the catalog's default image
        awaitState(token, debian, "running");
        awaitState(token, ubuntu, "running");
        assertThat(hostOf(debian)).isEqualTo("img-a");
        assertThat(hostOf(ubuntu)).isEqualTo("img-b");

        // no host holds it: the VM waits and says why, in the image's file name (not the host's path)
        String old = create(token, "old", "ubuntu-22.04-cuda-12.4");
        await(() -> {
            JsonNode vm = call("GET", "/api/v1/vms/" + old, token, null).json();
            return "pending".equals(vm.get("state").asString()) && vm.get("stateReason").asString()
                    .contains("2 lack the boot image ubuntu-22.04-cuda-12.4.qcow2");
        }, "the VM to wait for its image");
        assertThat(call("GET", "/api/v1/vms/" + old, token, null).json().get("stateReason").asString())
                .doesNotContain("/var/lib");

        // an operator copies the image to img-a: the next heartbeat reports it, which wakes the waiting VM
        // (rather than its next backoff), and the VM is placed there
        double wakes = hostCapacityWakes();
        onA.add(OLD_UBUNTU);
        awaitState(token, old, "running");
        assertThat(hostCapacityWakes()).as("the changed report woke the waiting VM").isGreaterThan(wakes);
        assertThat(hostOf(old)).isEqualTo("img-a");
        assertThat(imagesOf("img-a")).containsExactly(DEBIAN, OLD_UBUNTU);
        assertThat(locationsOf(token, "ubuntu-22.04-cuda-12.4")).contains("img-1");
    }

    /** The locations the customer API names for an image. */
    private List<String> locationsOf(String token, String image) {
        for (JsonNode i : call("GET", "/api/v1/boot-images", token, null).json().get("items")) {
            if (i.get("name").asString().equals(image)) {
                List<String> out = new java.util.ArrayList<>();
                i.get("locations").forEach(l -> out.add(l.asString()));
                return out;
            }
        }
        throw new AssertionError("no image " + image);
    }

    private double hostCapacityWakes() {
        var counter = meters.find("gpucloud.vms.capacity.retries").tag("cause", "host-capacity").counter();
        return counter == null ? 0 : counter.count();
    }

    private String create(String token, String name, String image) {
        Map<String, Object> body = new java.util.HashMap<>(Map.of("name", name, "instanceType", "h100x1",
                "location", "img-1"));
        if (image != null) {
            body.put("bootImage", image);
        }
        Response r = call("POST", "/api/v1/vms", token, body);
        assertThat(r.status()).as(r.body()).isEqualTo(201);
        return r.json().get("id").asString();
    }

    private String hostOf(String vmId) {
        return jdbc.sql("SELECT h.name FROM vm v JOIN host h ON h.id = v.host_id WHERE v.id = ?::uuid").param(vmId)
                .query(String.class).single();
    }

    private String hostId(String name) {
        return jdbc.sql("SELECT id::text FROM host WHERE name = ?").param(name).query(String.class).single();
    }

    private List<String> imagesOf(String host) {
        return jdbc.sql("SELECT coalesce(boot_images, '{}') FROM host WHERE name = ?").param(host)
                .query((rs, n) -> List.of((String[]) rs.getArray(1).getArray())).single();
    }
}
