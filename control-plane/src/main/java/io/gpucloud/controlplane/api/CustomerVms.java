package io.gpucloud.controlplane.api;

import io.gpucloud.controlplane.vm.VmService;
import io.gpucloud.controlplane.web.ApiException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import org.springframework.http.HttpStatus;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;
import tools.jackson.databind.json.JsonMapper;

/**
 * The customer's view of VMs: creation from an instance type (idempotent per key), keyset
 * pagination, and a host-free view. Every query is scoped by project, so another project's VM is
 * simply not found.
 */
@Service
public class CustomerVms {

    static final Set<String> STATES = Set.of("pending", "provisioning", "running", "stopping", "stopped", "starting",
            "rebooting", "deleting", "deleted", "failed", "unknown");
    private static final Pattern LOCATION = Pattern.compile("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$");
    private static final Pattern IDEMPOTENCY_KEY = Pattern.compile("^[\\x21-\\x7e]{1,255}$");
    private static final Pattern BDF = Pattern.compile("\\b[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]\\b");
    private static final int MAX_SSH_KEYS = 32;
    private static final long MAX_EXPECTED_DURATION_SECONDS = Duration.ofDays(366).toSeconds();
    /** cloud-init user data, in UTF-8 bytes (the database refuses more, too). */
    static final int MAX_USER_DATA_BYTES = 16 * 1024;
    /** States in which a VM holds its private address and shows how to reach it. */
    private static final Set<String> NETWORK_STATES = Set.of("running", "stopping", "stopped", "starting", "rebooting");

    private final JdbcClient jdbc;
    private final JsonMapper json;
    private final VmService vms;
    private final InstanceTypes types;
    private final SshKeys sshKeys;
    private final Quotas quotas;
    private final BootImages images;

    CustomerVms(JdbcClient jdbc, JsonMapper json, VmService vms, InstanceTypes types, SshKeys sshKeys,
                Quotas quotas, BootImages images) {
        this.quotas = quotas;
        this.images = images;
        this.jdbc = jdbc;
        this.json = json;
        this.vms = vms;
        this.types = types;
        this.sshKeys = sshKeys;
    }

    /** What a customer sees of a VM: never a host name, device address or host id. */
    public record CustomerVm(UUID id, String name, String instanceType, String state, String stateReason, String location,
                      String gpuModel, int gpuCount, int vcpus, long memoryMiB, Integer nvlinkPartitionSize,
                      int numaNodeCount, List<String> sshPublicKeys, String bootImage, UserData userData,
                      Network network, Instant createdAt, Instant updatedAt, Instant deletedAt) {
    }

    /** The user data is not echoed back (it may hold secrets): its size and SHA-256 identify it. */
    record UserData(int sizeBytes, String sha256) {
    }

    /**
     * The private IPv4 address the control plane allocated to the VM in its location's subnet, and
     * how to log in; shown while the VM is running or stopped (it keeps its address until deleted).
     */
    record Network(String privateIpv4, String sshCommand) {
    }

    record Created(CustomerVm vm, boolean replayed) {
    }

    public record Page(List<CustomerVm> items, String nextCursor) {
    }

    @Transactional
    Created create(UUID projectId, VmController.CreateVm r, String idempotencyKey) {
        if (idempotencyKey != null) {
            if (!IDEMPOTENCY_KEY.matcher(idempotencyKey).matches()) {
                throw ApiException.badRequest("Idempotency-Key",
                        "The Idempotency-Key header must be 1-255 visible ASCII characters.");
            }
            String hash = sha256(json.writeValueAsString(r));
            // Waits on a concurrent request with the same key until it commits, then sees its row.
            int inserted = jdbc.sql("""
                    INSERT INTO idempotency_key (project_id, key, request_hash) VALUES (?, ?, ?)
                    ON CONFLICT (project_id, key) DO NOTHING
                    """).params(projectId, idempotencyKey, hash).update();
            if (inserted == 0) {
                var earlier = jdbc.sql("SELECT request_hash, vm_id FROM idempotency_key WHERE project_id = ? AND key = ?")
                        .params(projectId, idempotencyKey)
                        .query((rs, n) -> new Object[] {rs.getString(1), rs.getObject(2, UUID.class)}).single();
                if (!hash.equals(earlier[0])) {
                    throw ApiException.conflict("idempotency-key-reused",
                            "This Idempotency-Key was used with a different request body.");
                }
                return new Created(get(projectId, (UUID) earlier[1]), true);
            }
            UUID id = createVm(projectId, r);
            jdbc.sql("UPDATE idempotency_key SET vm_id = ? WHERE project_id = ? AND key = ?")
                    .params(id, projectId, idempotencyKey).update();
            return new Created(get(projectId, id), false);
        }
        return new Created(get(projectId, createVm(projectId, r)), false);
    }

    /** For the console's create form: the same checks and quota as the API's create, without an idempotency key. */
    @Transactional
    public CustomerVm create(UUID projectId, String name, String instanceType, String location,
                             List<String> sshPublicKeys, List<UUID> sshKeyIds, String bootImage, String userData) {
        return create(projectId, new VmController.CreateVm(name, instanceType, location, sshPublicKeys, sshKeyIds,
                null, bootImage, userData), null).vm();
    }

    private UUID createVm(UUID projectId, VmController.CreateVm r) {
        if (r.instanceType() == null || r.instanceType().isBlank()) {
            throw ApiException.badRequest("instanceType", "instanceType is required; see GET /api/v1/instance-types.");
        }
        InstanceTypes.InstanceType type = types.find(r.instanceType()).orElseThrow(() -> ApiException.badRequest(
                "instanceType", "Unknown instance type; see GET /api/v1/instance-types."));
        if (r.location() != null && !LOCATION.matcher(r.location()).matches()) {
            throw ApiException.badRequest("location", "location must be 1-63 letters, digits, '.', '_' or '-'.");
        }
        if (r.expectedDurationSeconds() != null
                && (r.expectedDurationSeconds() < 60 || r.expectedDurationSeconds() > MAX_EXPECTED_DURATION_SECONDS)) {
            throw ApiException.badRequest("expectedDurationSeconds",
                    "expectedDurationSeconds must be between 60 and " + MAX_EXPECTED_DURATION_SECONDS + ".");
        }
        BootImages.BootImage image = r.bootImage() == null ? images.defaultImage()
                : images.find(r.bootImage()).orElseThrow(() -> new ApiException(HttpStatus.UNPROCESSABLE_CONTENT,
                        "unknown-boot-image", "Unknown boot image",
                        "bootImage must be one of " + images.all().stream().map(BootImages.BootImage::name).toList()
                                + "; see GET /api/v1/boot-images.", Map.of("field", "bootImage")));
        String userData = r.userData() == null || r.userData().isEmpty() ? null : r.userData();
        if (userData != null) {
            int size = userData.getBytes(StandardCharsets.UTF_8).length;
            if (size > MAX_USER_DATA_BYTES) {
                throw new ApiException(HttpStatus.UNPROCESSABLE_CONTENT, "user-data-too-large", "User data too large",
                        "userData is " + size + " bytes of UTF-8; at most " + MAX_USER_DATA_BYTES + " are accepted.",
                        Map.of("field", "userData", "sizeBytes", size, "limitBytes", MAX_USER_DATA_BYTES));
            }
            if (userData.indexOf('\0') >= 0) {
                throw new ApiException(HttpStatus.UNPROCESSABLE_CONTENT, "invalid-user-data", "Invalid user data",
                        "userData must be text (cloud-init): it may not contain NUL characters.",
                        Map.of("field", "userData"));
            }
        }
        List<String> keys = new ArrayList<>();
        List<String> given = r.sshPublicKeys() == null ? List.of() : r.sshPublicKeys();
        for (int i = 0; i < given.size(); i++) {
            keys.add(SshKeys.parse(given.get(i), "sshPublicKeys[" + i + "]").text());
        }
        keys.addAll(sshKeys.resolve(projectId, r.sshKeyIds() == null ? List.of() : r.sshKeyIds()));
        if (keys.size() > MAX_SSH_KEYS) {
            throw ApiException.badRequest("sshPublicKeys", "At most " + MAX_SSH_KEYS + " SSH keys per VM.");
        }
        quotas.lockProject(projectId); // until commit: concurrent creates in this project queue here
        quotas.check(projectId, type);
        UUID id = vms.create(new VmService.NewVm(projectId, r.name(), type.name(), type.gpuModel(), type.gpuCount(),
                type.vcpus(), type.memoryMiB(), r.location(),
                r.expectedDurationSeconds() == null ? null : Duration.ofSeconds(r.expectedDurationSeconds())));
        jdbc.sql("UPDATE vm SET ssh_public_keys = ?, boot_image = ?, boot_disk = ?, user_data = ? WHERE id = ?")
                .params(keys.toArray(String[]::new), image.name(), image.diskPath(), userData, id).update();
        return id;
    }

    public CustomerVm get(UUID projectId, UUID vmId) {
        return jdbc.sql(SELECT + " WHERE v.project_id = ? AND v.id = ?").params(projectId, vmId)
                .query((rs, n) -> view(rs)).optional()
                .orElseThrow(() -> ApiException.notFound("VM", vmId));
    }

    /**
     * Newest first. The cursor is the (created_at, id) of the last item, so pages stay stable while
     * VMs are created; deleted VMs are listed only when asked for with {@code state=deleted}.
     */
    public Page list(UUID projectId, int limit, String cursor, String state, String name) {
        if (limit < 1 || limit > 100) {
            throw ApiException.badRequest("limit", "limit must be between 1 and 100.");
        }
        if (state != null && !STATES.contains(state)) {
            throw ApiException.badRequest("state", "state must be one of " + STATES.stream().sorted().toList() + ".");
        }
        if (name != null && name.length() > 63) {
            throw ApiException.badRequest("name", "name is at most 63 characters.");
        }
        Instant afterCreated = null;
        UUID afterId = null;
        if (cursor != null) {
            try {
                String[] parts = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8).split("\\|");
                afterCreated = Instant.parse(parts[0]);
                afterId = UUID.fromString(parts[1]);
            } catch (IllegalArgumentException | DateTimeParseException | ArrayIndexOutOfBoundsException e) {
                throw ApiException.badRequest("cursor", "cursor is not one this API returned.");
            }
        }
        List<CustomerVm> rows = jdbc.sql(SELECT + """
                 WHERE v.project_id = ?
                   AND (CAST(? AS text) IS NULL AND v.state <> 'deleted' OR v.state = ?)
                   AND (CAST(? AS text) IS NULL OR v.name = ?)
                   AND (CAST(? AS timestamptz) IS NULL OR (v.created_at, v.id) < (CAST(? AS timestamptz), CAST(? AS uuid)))
                 ORDER BY v.created_at DESC, v.id DESC
                 LIMIT ?
                """)
                .params(projectId, state, state, name, name, ts(afterCreated), ts(afterCreated), afterId, limit + 1)
                .query((rs, n) -> view(rs)).list();
        String next = null;
        if (rows.size() > limit) {
            rows = rows.subList(0, limit);
            CustomerVm last = rows.get(limit - 1);
            next = Base64.getUrlEncoder().withoutPadding().encodeToString(
                    (last.createdAt() + "|" + last.id()).getBytes(StandardCharsets.UTF_8));
        }
        return new Page(List.copyOf(rows), next);
    }

    private static final String SELECT = """
            SELECT v.id, v.name, v.instance_type, v.state, v.state_reason, v.location, v.gpu_model, v.gpu_count,
                   v.vcpus, v.memory_mib, cardinality(v.numa_nodes) AS numa_node_count, v.ssh_public_keys,
                   v.created_at, v.updated_at, v.deleted_at, h.name AS host_name,
                   (SELECT p.gpu_count FROM gpu_partition p WHERE p.host_id = v.host_id AND p.vm_id = v.id) AS partition_size,
                   v.boot_image, octet_length(v.user_data) AS user_data_size,
                   encode(sha256(convert_to(v.user_data, 'UTF8')), 'hex') AS user_data_sha256,
                   host(a.address) AS private_ipv4
              FROM vm v LEFT JOIN host h ON h.id = v.host_id LEFT JOIN vm_address a ON a.vm_id = v.id
            """;

    private CustomerVm view(ResultSet rs) throws SQLException {
        Object[] keys = (Object[]) rs.getArray("ssh_public_keys").getArray();
        return new CustomerVm(rs.getObject("id", UUID.class), rs.getString("name"), rs.getString("instance_type"),
                rs.getString("state"), scrub(rs.getString("state_reason"), rs.getString("host_name")),
                rs.getString("location"), rs.getString("gpu_model"), rs.getInt("gpu_count"), rs.getInt("vcpus"),
                rs.getLong("memory_mib"), (Integer) rs.getObject("partition_size"), rs.getInt("numa_node_count"),
                java.util.Arrays.stream(keys).map(String::valueOf).toList(), rs.getString("boot_image"),
                rs.getString("user_data_sha256") == null ? null
                        : new UserData(rs.getInt("user_data_size"), rs.getString("user_data_sha256")),
                network(rs.getString("state"), rs.getString("private_ipv4"), rs.getString("boot_image")),
                instant(rs, "created_at"),
                instant(rs, "updated_at"), instant(rs, "deleted_at"));
    }

    private Network network(String state, String address, String bootImage) {
        if (address == null || !NETWORK_STATES.contains(state)) {
            return null;
        }
        return new Network(address, "ssh " + images.loginUser(bootImage) + "@" + address);
    }

    /** Reasons come from host workers and may name the host or a device address: keep those inside. */
    private static String scrub(String reason, String hostName) {
        if (reason == null) {
            return null;
        }
        String scrubbed = BDF.matcher(reason).replaceAll("<device>");
        return hostName == null || hostName.isEmpty() ? scrubbed : scrubbed.replace(hostName, "<host>");
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        Timestamp t = rs.getTimestamp(column);
        return t == null ? null : t.toInstant();
    }

    private static java.time.OffsetDateTime ts(Instant i) {
        return i == null ? null : i.atOffset(java.time.ZoneOffset.UTC);
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JRE", e);
        }
    }
}
