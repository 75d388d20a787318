package io.gpucloud.controlplane.inventory;

import io.gpucloud.protocol.Cpu;
import io.gpucloud.protocol.FabricPartition;
import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.NumaNode;
import io.gpucloud.protocol.PciDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import tools.jackson.databind.json.JsonMapper;

/**
 * Brings a host's rows in line with what its worker just discovered, in the caller's transaction.
 * Rules that keep tenants safe: rows held by a VM are never deleted (a vanished GPU becomes
 * {@code missing}); capacity totals never drop below what is allocated; a module id learned
 * earlier survives a report that cannot see it (GPUs on vfio-pci are invisible to nvidia-smi).
 */
@Component
class TopologyReconciler {

    private final JdbcClient jdbc;
    private final JsonMapper json;

    TopologyReconciler(JdbcClient jdbc, JsonMapper json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    void reconcile(UUID hostId, HostTopology t) {
        updateHostRow(hostId, t);
        reconcileNumaNodes(hostId, t.numaNodes());
        reconcileCpus(hostId, t.cpus());
        reconcileDevices(hostId, t.pciDevices());
        reconcilePartitions(hostId, t.partitions());
        refreshGpuTotals(hostId);
    }

    // total_gpus counts present GPUs; a held GPU that went missing still counts until its VM lets go.
    private void refreshGpuTotals(UUID hostId) {
        jdbc.sql("""
                UPDATE host h SET total_gpus = GREATEST(h.used_gpus, (SELECT count(*) FROM pci_device d
                        WHERE d.host_id = h.id AND d.kind = 'gpu' AND (d.health <> 'missing' OR d.vm_id IS NOT NULL)))
                 WHERE h.id = ?
                """).param(hostId).update();
    }

    private void updateHostRow(UUID hostId, HostTopology t) {
        int cpus = t.cpus().size();
        long memory = t.numaNodes().stream().mapToLong(NumaNode::memoryMiB).sum();
        int hugepages = t.numaNodes().stream().mapToInt(NumaNode::hugepages1gTotal).sum();
        jdbc.sql("""
                UPDATE host SET platform = ?, gpu_model = ?, fabric_mode = ?, fabric_source = ?,
                       passthrough_capable = ?, problems = ?::jsonb,
                       total_cpus = GREATEST(?, used_cpus),
                       total_memory_mib = GREATEST(?, used_memory_mib),
                       total_hugepages_1g = GREATEST(?, used_hugepages_1g),
                       topology_reported_at = now()
                 WHERE id = ?
                """)
                .params(t.platform().name(), t.gpuModel(), t.fabricMode().name(),
                        t.fabricSource() == null ? "none" : t.fabricSource(), t.passthroughCapable(),
                        json.writeValueAsString(t.problems()), cpus, memory, hugepages, hostId)
                .update();
    }

    private void reconcileNumaNodes(UUID hostId, List<NumaNode> nodes) {
        for (NumaNode n : nodes) {
            jdbc.sql("""
                    INSERT INTO numa_node (host_id, node_id, memory_mib, total_cpus, hugepages_1g_total, hugepages_2m_total)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (host_id, node_id) DO UPDATE SET
                        memory_mib = EXCLUDED.memory_mib,
                        total_cpus = GREATEST(EXCLUDED.total_cpus, numa_node.used_cpus),
                        hugepages_1g_total = GREATEST(EXCLUDED.hugepages_1g_total, numa_node.hugepages_1g_used),
                        hugepages_2m_total = EXCLUDED.hugepages_2m_total
                    """)
                    .params(hostId, n.id(), n.memoryMiB(), n.cpus().size(), n.hugepages1gTotal(), n.hugepages2mTotal())
                    .update();
        }
        Integer[] reported = nodes.stream().map(NumaNode::id).toArray(Integer[]::new);
        jdbc.sql("""
                DELETE FROM numa_node n WHERE host_id = ? AND node_id <> ALL(?)
                   AND used_cpus = 0 AND hugepages_1g_used = 0
                   AND cardinality(held_cpus) = 0
                """)
                .params(hostId, reported).update();
    }

    private void reconcileCpus(UUID hostId, List<Cpu> cpus) {
        Integer[] ids = new Integer[cpus.size()];
        Integer[] sockets = new Integer[cpus.size()];
        Integer[] cores = new Integer[cpus.size()];
        Integer[] nodes = new Integer[cpus.size()];
        String[] siblings = new String[cpus.size()];
        for (int i = 0; i < cpus.size(); i++) {
            Cpu c = cpus.get(i);
            ids[i] = c.id();
            sockets[i] = c.socket();
            cores[i] = c.core();
            nodes[i] = c.numaNode();
            siblings[i] = c.siblings().stream().map(String::valueOf).collect(Collectors.joining(","));
        }
        // One statement for all CPUs: a 224-thread host would otherwise cost 224 round trips.
        jdbc.sql("""
                INSERT INTO cpu (host_id, cpu_id, socket_id, core_id, node_id, siblings)
                SELECT ?, u.cpu_id, u.socket_id, u.core_id, u.node_id,
                       CASE WHEN u.sib = '' THEN '{}'::int[] ELSE string_to_array(u.sib, ',')::int[] END
                  FROM unnest(?::int[], ?::int[], ?::int[], ?::int[], ?::text[]) AS u(cpu_id, socket_id, core_id, node_id, sib)
                ON CONFLICT (host_id, cpu_id) DO UPDATE SET
                    socket_id = EXCLUDED.socket_id, core_id = EXCLUDED.core_id,
                    node_id = EXCLUDED.node_id, siblings = EXCLUDED.siblings
                """)
                .params(hostId, ids, sockets, cores, nodes, siblings).update();
        // a CPU a VM holds stays until the VM lets go of it (numa_node.held_cpus is the holder of record)
        jdbc.sql("""
                DELETE FROM cpu c WHERE host_id = ? AND cpu_id <> ALL(?)
                   AND NOT EXISTS (SELECT 1 FROM numa_node n WHERE n.host_id = c.host_id AND c.cpu_id = ANY (n.held_cpus))
                """)
                .params(hostId, ids).update();
    }

    private void reconcileDevices(UUID hostId, List<PciDevice> devices) {
        List<String> moduleBdfs = new ArrayList<>();
        List<Integer> moduleIds = new ArrayList<>();
        for (PciDevice d : devices) {
            if (d.moduleId() != null) {
                moduleBdfs.add(d.bdf().toLowerCase(Locale.ROOT));
                moduleIds.add(d.moduleId());
            }
        }
        // A module id now reported on another BDF (GPU tray swapped) frees the stale claim first,
        // so the unique (host, module) index never blocks the truth.
        jdbc.sql("""
                UPDATE pci_device p SET module_id = NULL
                  FROM unnest(?::text[], ?::int[]) AS r(bdf, module_id)
                 WHERE p.host_id = ? AND p.module_id = r.module_id AND p.bdf <> r.bdf
                """)
                .params(moduleBdfs.toArray(String[]::new), moduleIds.toArray(Integer[]::new), hostId).update();
        for (PciDevice d : devices) {
            jdbc.sql("""
                    INSERT INTO pci_device (host_id, bdf, vendor_id, device_id, class_code, kind, model, numa_node,
                                            iommu_group, parent_bdf, switch_bdf, root_port_bdf, driver, module_id, bar_sizes)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (host_id, bdf) DO UPDATE SET
                        vendor_id = EXCLUDED.vendor_id, device_id = EXCLUDED.device_id,
                        class_code = EXCLUDED.class_code, kind = EXCLUDED.kind, model = EXCLUDED.model,
                        numa_node = EXCLUDED.numa_node, iommu_group = EXCLUDED.iommu_group,
                        parent_bdf = EXCLUDED.parent_bdf, switch_bdf = EXCLUDED.switch_bdf,
                        root_port_bdf = EXCLUDED.root_port_bdf, driver = EXCLUDED.driver,
                        module_id = COALESCE(EXCLUDED.module_id, pci_device.module_id),
                        bar_sizes = EXCLUDED.bar_sizes,
                        health = CASE WHEN pci_device.health = 'missing' THEN 'ok' ELSE pci_device.health END,
                        health_reason = CASE WHEN pci_device.health = 'missing' THEN NULL ELSE pci_device.health_reason END,
                        health_changed_at = CASE WHEN pci_device.health = 'missing' THEN now() ELSE pci_device.health_changed_at END,
                        last_seen_at = now()
                    """)
                    .params(hostId, d.bdf().toLowerCase(Locale.ROOT), d.vendorId(), d.deviceId(), d.classCode(),
                            d.kind().name().toLowerCase(Locale.ROOT), d.model(), d.numaNode(), d.iommuGroup(),
                            d.parentBdf(), d.switchBdf(), d.rootPortBdf(), d.driver(), d.moduleId(),
                            d.barSizes().toArray(Long[]::new))
                    .update();
        }
        String[] seen = devices.stream().map(d -> d.bdf().toLowerCase(Locale.ROOT)).toArray(String[]::new);
        jdbc.sql("""
                UPDATE pci_device SET health = 'missing', health_changed_at = now(),
                       health_reason = 'not found by the last discovery'
                 WHERE host_id = ? AND bdf <> ALL(?) AND health <> 'missing'
                """)
                .params(hostId, seen).update();
    }

    private void reconcilePartitions(UUID hostId, List<FabricPartition> partitions) {
        for (FabricPartition p : partitions) {
            jdbc.sql("""
                    INSERT INTO gpu_partition (host_id, partition_id, gpu_count, module_ids, available, fm_active)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (host_id, partition_id) DO UPDATE SET
                        gpu_count = EXCLUDED.gpu_count, module_ids = EXCLUDED.module_ids,
                        available = EXCLUDED.available, fm_active = EXCLUDED.fm_active
                    """)
                    .params(hostId, p.partitionId(), p.gpuCount(), p.moduleIds().toArray(Integer[]::new),
                            p.available(), p.active())
                    .update();
        }
        Integer[] reported = partitions.stream().map(FabricPartition::partitionId).toArray(Integer[]::new);
        jdbc.sql("DELETE FROM gpu_partition WHERE host_id = ? AND partition_id <> ALL(?) AND vm_id IS NULL")
                .params(hostId, reported).update();
        jdbc.sql("UPDATE gpu_partition SET available = false WHERE host_id = ? AND partition_id <> ALL(?)")
                .params(hostId, reported).update();
        // Members are joined by module id, never by bus order: that is how Fabric Manager names GPUs.
        jdbc.sql("""
                DELETE FROM gpu_partition_member m USING gpu_partition p
                 WHERE m.partition_row_id = p.id AND p.host_id = ?
                """).param(hostId).update();
        jdbc.sql("""
                INSERT INTO gpu_partition_member (partition_row_id, device_id)
                SELECT p.id, d.id FROM gpu_partition p
                  JOIN pci_device d ON d.host_id = p.host_id AND d.kind = 'gpu' AND d.module_id = ANY(p.module_ids)
                 WHERE p.host_id = ?
                """).param(hostId).update();
        // A partition whose GPUs are not all present and mapped cannot be handed out.
        jdbc.sql("""
                UPDATE gpu_partition p SET available = false
                 WHERE p.host_id = ? AND p.gpu_count > (
                       SELECT count(*) FROM gpu_partition_member m JOIN pci_device d ON d.id = m.device_id
                        WHERE m.partition_row_id = p.id AND d.health <> 'missing')
                """).param(hostId).update();
    }

    Map<String, Integer> knownModuleIds(UUID hostId) {
        return jdbc.sql("SELECT bdf, module_id FROM pci_device WHERE host_id = ? AND module_id IS NOT NULL ORDER BY bdf")
                .param(hostId)
                .query((rs, n) -> Map.entry(rs.getString(1), rs.getInt(2)))
                .list().stream()
                .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue, (a, b) -> a, java.util.TreeMap::new));
    }
}
