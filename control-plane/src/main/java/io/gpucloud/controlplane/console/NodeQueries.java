package io.gpucloud.controlplane.console;

import io.gpucloud.controlplane.inventory.HostQueries;
import io.gpucloud.controlplane.inventory.HostViews.DeviceView;
import io.gpucloud.controlplane.inventory.HostViews.HostDetail;
import io.gpucloud.controlplane.inventory.HostViews.NumaNodeView;
import io.gpucloud.controlplane.inventory.HostViews.PartitionView;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Transactional;

/**
 * The SQL behind the operator's node and GPU pages. Lists filter, count and page in one statement
 * over the host (or GPU) rows and compute per-host aggregates only for the page shown, so a fleet
 * of thousands of hosts still costs one small query. The node page reuses {@link HostQueries} for
 * everything the admin API already knows (partition states included) so both always agree.
 */
@Component
class NodeQueries {

    static final int PAGE_SIZE = 50;
    static final List<String> HOST_STATES =
            List.of("onboarding", "ready", "draining", "unreachable", "maintenance", "retired");
    static final List<String> HEALTHS = List.of("ok", "suspect", "quarantined", "missing");

    private final JdbcClient jdbc;
    private final HostQueries hosts;

    NodeQueries(JdbcClient jdbc, HostQueries hosts) {
        this.jdbc = jdbc;
        this.hosts = hosts;
    }

    /** One page of rows plus the total that matched. {@code page} counts from 1. */
    record Paged<T>(List<T> items, long total, int page, int size) {
        public int pages() {
            return (int) Math.max(1, (total + size - 1) / size);
        }

        public boolean hasPrevious() {
            return page > 1;
        }

        public boolean hasNext() {
            return page < pages();
        }

        public long from() {
            return total == 0 ? 0 : (long) (page - 1) * size + 1;
        }

        public long to() {
            return Math.min(total, (long) page * size);
        }
    }

    record HostFilter(String state, String gpuModel, String location, String q) {
    }

    record HostRow(UUID id, String name, String location, String platform, String state, String stateReason,
                   String gpuModel, int gpuCount, int freeGpus, String virtualizationMode,
                   String virtualizationStatus, String virtualizationReason, Instant lastHeartbeatAt) {
    }

    @Transactional(readOnly = true)
    Paged<HostRow> hosts(HostFilter f, int page) {
        String q = blankToNull(f.q());
        List<HostRow> rows = new ArrayList<>();
        long[] total = {0};
        // filter, count and cut the page on host alone; GPU counts only for the 50 rows shown
        jdbc.sql("""
                WITH page AS (
                    SELECT h.id, h.name, h.location, h.platform, h.state, h.state_reason, h.gpu_model,
                           h.virtualization_mode, h.virtualization_status, h.virtualization_reason,
                           h.last_heartbeat_at, count(*) OVER () AS total
                      FROM host h
                     WHERE (CAST(:state AS text) IS NULL OR h.state = :state)
                       AND (CAST(:model AS text) IS NULL OR h.gpu_model = :model)
                       AND (CAST(:location AS text) IS NULL OR h.location = :location)
                       AND (CAST(:q AS text) IS NULL OR h.name ILIKE '%' || :q || '%')
                     ORDER BY h.name
                     LIMIT :limit OFFSET :offset)
                SELECT page.*, g.gpu_count, g.free_gpus
                  FROM page
                  CROSS JOIN LATERAL (
                      SELECT count(*) FILTER (WHERE d.health <> 'missing')::integer AS gpu_count,
                             count(*) FILTER (WHERE d.health = 'ok' AND d.vm_id IS NULL)::integer AS free_gpus
                        FROM pci_device d WHERE d.host_id = page.id AND d.kind = 'gpu') g
                 ORDER BY page.name
                """)
                .param("state", blankToNull(f.state()))
                .param("model", blankToNull(f.gpuModel()))
                .param("location", blankToNull(f.location()))
                .param("q", q == null ? null : escapeLike(q))
                .param("limit", PAGE_SIZE)
                .param("offset", (long) (page - 1) * PAGE_SIZE)
                .query(rs -> {
                    total[0] = rs.getLong("total");
                    rows.add(new HostRow(rs.getObject("id", UUID.class), rs.getString("name"),
                            rs.getString("location"), rs.getString("platform"), rs.getString("state"),
                            rs.getString("state_reason"), rs.getString("gpu_model"), rs.getInt("gpu_count"),
                            rs.getInt("free_gpus"), rs.getString("virtualization_mode"),
                            rs.getString("virtualization_status"), rs.getString("virtualization_reason"),
                            instant(rs, "last_heartbeat_at")));
                });
        if (rows.isEmpty() && page > 1) {
            total[0] = jdbc.sql("""
                    SELECT count(*) FROM host h
                     WHERE (CAST(:state AS text) IS NULL OR h.state = :state)
                       AND (CAST(:model AS text) IS NULL OR h.gpu_model = :model)
                       AND (CAST(:location AS text) IS NULL OR h.location = :location)
                       AND (CAST(:q AS text) IS NULL OR h.name ILIKE '%' || :q || '%')
                    """)
                    .param("state", blankToNull(f.state()))
                    .param("model", blankToNull(f.gpuModel()))
                    .param("location", blankToNull(f.location()))
                    .param("q", q == null ? null : escapeLike(q))
                    .query(Long.class).single();
        }
        return new Paged<>(rows, total[0], page, PAGE_SIZE);
    }

    /** GPU models and locations present in the fleet, for the filter drop-downs. */
    @Transactional(readOnly = true)
    List<String> hostModels() {
        return jdbc.sql("SELECT DISTINCT gpu_model FROM host WHERE gpu_model IS NOT NULL ORDER BY 1")
                .query(String.class).list();
    }

    @Transactional(readOnly = true)
    List<String> locations() {
        return jdbc.sql("SELECT DISTINCT location FROM host ORDER BY 1").query(String.class).list();
    }

    @Transactional(readOnly = true)
    List<String> gpuModels() {
        return jdbc.sql("""
                SELECT DISTINCT coalesce(d.model, h.gpu_model) FROM pci_device d JOIN host h ON h.id = d.host_id
                 WHERE d.kind = 'gpu' AND coalesce(d.model, h.gpu_model) IS NOT NULL ORDER BY 1
                """).query(String.class).list();
    }

    // ---------------------------------------------------------------- GPUs across the fleet

    record GpuFilter(String model, String health, String holding, String host) {
    }

    /**
     * @param state free (healthy and unheld), held (a VM holds it) or unhealthy
     */
    record GpuRow(UUID hostId, String hostName, Integer moduleId, String bdf, String model, String health,
                  String healthReason, String mode, String modeStatus, UUID vmId, String vmName, String state) {
    }

    @Transactional(readOnly = true)
    Paged<GpuRow> gpus(GpuFilter f, int page) {
        String host = blankToNull(f.host());
        String holding = blankToNull(f.holding());
        List<GpuRow> rows = new ArrayList<>();
        long[] total = {0};
        String where = """
                 WHERE d.kind = 'gpu'
                   AND (CAST(:model AS text) IS NULL OR coalesce(d.model, h.gpu_model) = :model)
                   AND (CAST(:health AS text) IS NULL OR d.health = :health)
                   AND (CAST(:holding AS text) IS NULL
                        OR (:holding = 'held' AND d.vm_id IS NOT NULL)
                        OR (:holding = 'free' AND d.vm_id IS NULL AND d.health = 'ok'))
                   AND (CAST(:host AS text) IS NULL OR h.name ILIKE '%' || :host || '%')
                """;
        jdbc.sql("""
                WITH page AS (
                    SELECT d.host_id, h.name AS host_name, d.module_id, d.bdf, coalesce(d.model, h.gpu_model) AS model,
                           d.health, d.health_reason, h.virtualization_mode, h.virtualization_status, d.vm_id,
                           count(*) OVER () AS total
                      FROM pci_device d JOIN host h ON h.id = d.host_id
                """ + where + """
                     ORDER BY h.name, d.module_id NULLS LAST, d.bdf
                     LIMIT :limit OFFSET :offset)
                SELECT page.*, v.name AS vm_name
                  FROM page LEFT JOIN vm v ON v.id = page.vm_id
                 ORDER BY page.host_name, page.module_id NULLS LAST, page.bdf
                """)
                .param("model", blankToNull(f.model()))
                .param("health", blankToNull(f.health()))
                .param("holding", holding)
                .param("host", host == null ? null : escapeLike(host))
                .param("limit", PAGE_SIZE)
                .param("offset", (long) (page - 1) * PAGE_SIZE)
                .query(rs -> {
                    total[0] = rs.getLong("total");
                    UUID vmId = rs.getObject("vm_id", UUID.class);
                    String health = rs.getString("health");
                    String state = vmId != null ? "held" : "ok".equals(health) ? "free" : "unhealthy";
                    rows.add(new GpuRow(rs.getObject("host_id", UUID.class), rs.getString("host_name"),
                            (Integer) rs.getObject("module_id"), rs.getString("bdf"), rs.getString("model"), health,
                            rs.getString("health_reason"), rs.getString("virtualization_mode"),
                            rs.getString("virtualization_status"), vmId, rs.getString("vm_name"), state));
                });
        if (rows.isEmpty() && page > 1) {
            total[0] = jdbc.sql("SELECT count(*) FROM pci_device d JOIN host h ON h.id = d.host_id " + where)
                    .param("model", blankToNull(f.model()))
                    .param("health", blankToNull(f.health()))
                    .param("holding", holding)
                    .param("host", host == null ? null : escapeLike(host))
                    .query(Long.class).single();
        }
        return new Paged<>(rows, total[0], page, PAGE_SIZE);
    }

    // ---------------------------------------------------------------- one node

    record Problem(String severity, String code, String subject, String message) {
    }

    record VmRef(UUID id, String name, String state) {
    }

    /** A GPU card of the board: the device row plus the name of the VM holding it. */
    record GpuCard(DeviceView device, VmRef vm) {
        public boolean held() {
            return device.vmId() != null;
        }

        public boolean healthy() {
            return "ok".equals(device.health());
        }
    }

    /** A partition box of the tree, with the VM that holds it (when one does). */
    record PartitionBox(PartitionView partition, VmRef vm, List<VmRef> blockedBy) {
    }

    record TreeLevel(int size, List<PartitionBox> partitions) {
    }

    /** A PCIe switch (by the upstream port's BDF) and the endpoints below it. */
    record PcieSwitch(String bdf, String rootPort, Integer numaNode, List<DeviceView> devices) {
    }

    record NumaUse(NumaNodeView node, int totalCpus) {
    }

    /**
     * Everything the node page shows.
     *
     * @param tree partition rows by size, largest first
     */
    record Node(HostDetail host, String virtualizationReason, Instant stateChangedAt, List<Problem> problems,
                List<GpuCard> gpus, List<TreeLevel> tree, int treeColumns, List<NumaUse> numa,
                List<PcieSwitch> switches, List<DeviceView> unswitched, List<VmRef> vms) {

        public boolean switching() {
            return "switching".equals(host.virtualizationStatus());
        }
    }

    @Transactional(readOnly = true)
    Optional<Node> node(UUID hostId) {
        record Extra(String virtualizationReason, Instant stateChangedAt) {
        }
        Optional<Extra> extra = jdbc.sql("SELECT virtualization_reason, state_changed_at FROM host WHERE id = ?")
                .param(hostId)
                .query((rs, n) -> new Extra(rs.getString(1), instant(rs, "state_changed_at"))).optional();
        if (extra.isEmpty()) {
            return Optional.empty();
        }
        HostDetail host = hosts.detail(hostId);

        List<Problem> problems = jdbc.sql("""
                SELECT p->>'severity', p->>'code', p->>'subject', p->>'message'
                  FROM host h CROSS JOIN LATERAL jsonb_array_elements(
                       CASE WHEN jsonb_typeof(h.problems) = 'array' THEN h.problems ELSE '[]'::jsonb END) p
                 WHERE h.id = ?
                """).param(hostId)
                .query((rs, n) -> new Problem(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)))
                .list();

        Map<UUID, VmRef> vms = new LinkedHashMap<>();
        jdbc.sql("""
                SELECT v.id, v.name, v.state FROM vm v
                 WHERE v.id IN (SELECT d.vm_id FROM pci_device d WHERE d.host_id = :host AND d.vm_id IS NOT NULL
                                UNION SELECT p.vm_id FROM gpu_partition p WHERE p.host_id = :host AND p.vm_id IS NOT NULL
                                UNION SELECT vm_id FROM vms_placed_on(:host))
                 ORDER BY v.name
                """).param("host", hostId)
                .query((rs, n) -> new VmRef(rs.getObject(1, UUID.class), rs.getString(2), rs.getString(3)))
                .list().forEach(v -> vms.put(v.id(), v));

        List<GpuCard> gpus = host.pciDevices().stream()
                .filter(d -> "gpu".equals(d.kind()))
                .sorted(Comparator.comparing((DeviceView d) -> d.moduleId() == null ? Integer.MAX_VALUE : d.moduleId())
                        .thenComparing(DeviceView::bdf))
                .map(d -> new GpuCard(d, d.vmId() == null ? null : vms.get(d.vmId())))
                .toList();

        Map<Integer, UUID> holderByModule = new HashMap<>();
        gpus.forEach(g -> {
            if (g.device().moduleId() != null && g.device().vmId() != null) {
                holderByModule.put(g.device().moduleId(), g.device().vmId());
            }
        });
        Map<Integer, List<PartitionBox>> bySize = new java.util.TreeMap<>(Comparator.reverseOrder());
        for (PartitionView p : host.partitions()) {
            List<VmRef> blockers = "blocked".equals(p.state())
                    ? p.moduleIds().stream().map(holderByModule::get).filter(java.util.Objects::nonNull).distinct()
                    .map(vms::get).filter(java.util.Objects::nonNull).toList()
                    : List.of();
            bySize.computeIfAbsent(p.gpuCount(), k -> new ArrayList<>())
                    .add(new PartitionBox(p, p.vmId() == null ? null : vms.get(p.vmId()), blockers));
        }
        List<TreeLevel> tree = new ArrayList<>();
        bySize.forEach((size, boxes) -> {
            boxes.sort(Comparator.comparing((PartitionBox b) -> b.partition().moduleIds().isEmpty() ? 0
                    : b.partition().moduleIds().stream().min(Integer::compare).orElse(0))
                    .thenComparing(b -> b.partition().partitionId()));
            tree.add(new TreeLevel(size, boxes));
        });
        int columns = tree.stream().mapToInt(l -> l.partitions().size()).max().orElse(1);

        List<NumaUse> numa = host.numaNodes().stream().map(n -> new NumaUse(n, n.cpus().size())).toList();

        // endpoints grouped under the upstream port of the nearest PCIe switch above them
        Map<String, DeviceView> byBdf = new HashMap<>();
        host.pciDevices().forEach(d -> byBdf.put(d.bdf(), d));
        Map<String, List<DeviceView>> groups = new java.util.TreeMap<>();
        List<DeviceView> unswitched = new ArrayList<>();
        Set<String> endpoints = Set.of("gpu", "nic", "nvme", "nvswitch", "other");
        for (DeviceView d : host.pciDevices()) {
            if (!endpoints.contains(d.kind())) {
                continue;
            }
            if (d.switchBdf() != null) {
                groups.computeIfAbsent(d.switchBdf(), k -> new ArrayList<>()).add(d);
            } else {
                unswitched.add(d);
            }
        }
        List<PcieSwitch> switches = new ArrayList<>();
        groups.forEach((bdf, devices) -> {
            devices.sort(Comparator.comparing((DeviceView d) -> kindOrder(d.kind())).thenComparing(DeviceView::bdf));
            DeviceView port = byBdf.get(bdf);
            Integer numaNode = port != null && port.numaNode() != null ? port.numaNode()
                    : devices.stream().map(DeviceView::numaNode).filter(java.util.Objects::nonNull).findFirst()
                    .orElse(null);
            String root = port != null && port.rootPortBdf() != null ? port.rootPortBdf()
                    : devices.stream().map(DeviceView::rootPortBdf).filter(java.util.Objects::nonNull).findFirst()
                    .orElse(null);
            switches.add(new PcieSwitch(bdf, root, numaNode, devices));
        });
        unswitched.sort(Comparator.comparing((DeviceView d) -> kindOrder(d.kind())).thenComparing(DeviceView::bdf));

        return Optional.of(new Node(host, extra.get().virtualizationReason(), extra.get().stateChangedAt(), problems,
                gpus, tree, columns, numa, switches, unswitched, List.copyOf(vms.values())));
    }

    private static int kindOrder(String kind) {
        return switch (kind) {
            case "gpu" -> 0;
            case "nvswitch" -> 1;
            case "nic" -> 2;
            case "nvme" -> 3;
            default -> 4;
        };
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }

    /** A search term matched literally inside ILIKE (its % and _ are not wildcards). */
    private static String escapeLike(String s) {
        return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_");
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        Timestamp ts = rs.getTimestamp(column);
        return ts == null ? null : ts.toInstant();
    }
}
