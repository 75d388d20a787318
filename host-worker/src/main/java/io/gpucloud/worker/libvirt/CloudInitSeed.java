package io.gpucloud.worker.libvirt;

import io.gpucloud.protocol.job.DomainSpec.GuestInit;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import tools.jackson.databind.json.JsonMapper;

/**
 * The files of a cloud-init NoCloud seed (a volume labelled {@code cidata}) for one VM:
 * <ul>
 *   <li>{@code meta-data}: instance id, hostname and the customer's SSH public keys
 *       ({@code public-keys}, which cloud-init installs for the image's default user);</li>
 *   <li>{@code user-data}: the customer's text as given, or an empty cloud-config;</li>
 *   <li>{@code network-config} (version 2), when the VM has a private address and a management NIC: that
 *       NIC, matched by its MAC, keeps DHCP for its default route and carries the private address too;</li>
 *   <li>{@code vendor-data}, when the VM has GPUs: the provider's cloud-config, which writes the guest's
 *       NCCL topology file to {@value #NCCL_TOPO_FILE} and points NCCL at it in {@code /etc/nccl.conf}
 *       (NCCL reads that file for its settings), so that NCCL in the guest sees the topology the host
 *       mirrors without anyone setting {@code NCCL_TOPO_FILE}. cloud-init merges user-data over it, so a
 *       customer can still override either file.</li>
 * </ul>
 * meta-data and network-config are written as JSON, which YAML reads as is: nothing a customer chose
 * (a hostname, a key comment) can change the document's structure.
 */
public final class CloudInitSeed {

    /** The seed's files, name → content, in the order they are written. */
    public record Files(Map<String, String> byName) {
        public Files {
            byName = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(byName));
        }

        public Map<String, byte[]> bytes() {
            Map<String, byte[]> out = new LinkedHashMap<>();
            byName.forEach((name, text) -> out.put(name, text.getBytes(StandardCharsets.UTF_8)));
            return out;
        }
    }

    /** Where the guest finds its NCCL topology. */
    public static final String NCCL_TOPO_FILE = "/etc/nccl/topo.xml";

    /** What a VM without user data gets: a valid, empty cloud-config (NoCloud needs the file). */
    static final String EMPTY_USER_DATA = "#cloud-config\n{}\n";

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private CloudInitSeed() {
    }

    /**
     * @param mac          the management NIC's MAC address, or null when the domain has none (then no
     *                     network-config: the image's own default applies)
     * @param ncclTopology the guest's NCCL topology file ({@link NcclTopologyWriter}), or null for a VM
     *                     without GPUs (then no vendor-data)
     */
    public static Files render(UUID vmId, GuestInit init, String mac, String ncclTopology) {
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("instance-id", vmId.toString());
        meta.put("local-hostname", init.hostname());
        if (!init.sshPublicKeys().isEmpty()) {
            meta.put("public-keys", init.sshPublicKeys());
        }
        Map<String, String> files = new LinkedHashMap<>();
        files.put("meta-data", JSON.writeValueAsString(meta) + "\n");
        String userData = init.userData();
        files.put("user-data", userData == null || userData.isBlank() ? EMPTY_USER_DATA : userData);
        if (init.privateIpv4() != null && mac != null) {
            Map<String, Object> nic = new LinkedHashMap<>();
            nic.put("match", Map.of("macaddress", mac));
            nic.put("dhcp4", true);
            nic.put("addresses", List.of(init.privateIpv4() + "/" + init.prefixLength()));
            files.put("network-config", JSON.writeValueAsString(Map.of("version", 2, "ethernets", Map.of("mgmt0", nic)))
                    + "\n");
        }
        if (ncclTopology != null) {
            List<Map<String, String>> writeFiles = List.of(
                    Map.of("path", NCCL_TOPO_FILE, "permissions", "0644", "content", ncclTopology),
                    Map.of("path", "/etc/nccl.conf", "permissions", "0644", "content",
                            "NCCL_TOPO_FILE=" + NCCL_TOPO_FILE + "\n"));
            files.put("vendor-data", "#cloud-config\n" + JSON.writeValueAsString(Map.of("write_files", writeFiles))
                    + "\n");
        }
        return new Files(files);
    }

    /**
     * The management NIC's MAC: fixed by the VM's id, so it is the same on every define (a restored VM
     * keeps its DHCP lease and its network-config still matches). 52:54:00 is QEMU's prefix.
     */
    public static String macOf(UUID vmId) {
        long bits = vmId.getLeastSignificantBits() ^ vmId.getMostSignificantBits();
        return String.format("52:54:00:%02x:%02x:%02x", (bits >>> 16) & 0xff, (bits >>> 8) & 0xff, bits & 0xff);
    }
}
