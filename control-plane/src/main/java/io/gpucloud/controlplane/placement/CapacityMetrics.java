package io.gpucloud.controlplane.placement;

import io.gpucloud.controlplane.inventory.GaugeFamily;
import io.gpucloud.placement.HostSnapshot;
import io.gpucloud.placement.HostView;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * Free capacity for Prometheus: healthy GPUs nobody holds per model and location
 * ({@code gpucloud_gpus_free}), and fabric partitions that could be allocated now per model and size
 * ({@code gpucloud_partitions_free}). Both count ready hosts only, under the host's GPU model (what
 * requests are matched against).
 *
 * <p>Counted from the fleet cache, with the policy's own rules ({@link HostView}), so the gauges say
 * what placement would hand out. Counting in SQL joined every device and partition of the fleet every
 * sample: about a second of database time per sample at 10,000 hosts, on the same cores as the
 * claims. A host whose snapshot is not in memory (never loaded yet, or just changed by another
 * instance) is counted in SQL, the same way; before the cache's first load, every host is.
 */
@Component
class CapacityMetrics {

    private final FleetCache cache;
    private final JdbcClient jdbc;
    private final GaugeFamily freeGpus;
    private final GaugeFamily freePartitions;

    CapacityMetrics(FleetCache cache, JdbcClient jdbc, MeterRegistry registry) {
        this.cache = cache;
        this.jdbc = jdbc;
        this.freeGpus = new GaugeFamily(registry, "gpucloud.gpus.free",
                "Healthy GPUs not held by any VM on ready hosts", null);
        this.freePartitions = new GaugeFamily(registry, "gpucloud.partitions.free",
                "Fabric partitions that could be allocated now, by GPU count", null);
    }

    @Scheduled(fixedDelayString = "${gpucloud.metrics.sample-period:10s}", initialDelay = 1000)
    void sample() {
        Map<Tags, Integer> gpus = new HashMap<>();
        Map<Tags, Integer> partitions = new HashMap<>();
        List<UUID> cold = new ArrayList<>();
        cache.entries().ifPresentOrElse(entries -> {
            for (FleetCache.Entry e : entries) {
                if (e.snapshot() == null) {
                    cold.add(e.row().id());
                } else {
                    count(e.row(), e.snapshot(), gpus, partitions);
                }
            }
            if (!cold.isEmpty()) {
                countInSql(cold.toArray(UUID[]::new), gpus, partitions);
            }
        }, () -> countInSql(null, gpus, partitions));
        freeGpus.update(gpus);
        freePartitions.update(partitions);
    }

    private static void count(FleetCache.HostRow row, HostSnapshot snapshot, Map<Tags, Integer> gpus,
                              Map<Tags, Integer> partitions) {
        String model = row.gpuModel() == null ? "unknown" : row.gpuModel();
        boolean ready = "ready".equals(row.state());
        HostView view = HostView.withoutRequest(snapshot);
        if (view.hasGpus()) {
            gpus.merge(Tags.of("model", model, "location", row.location()), ready ? view.freeGpus() : 0, Integer::sum);
        }
        view.freePartitionsBySize().forEach((size, free) ->
                partitions.merge(Tags.of("model", model, "size", String.valueOf(size)), ready ? free : 0, Integer::sum));
    }

    /** The same counts for these hosts (all hosts if null) from the database. */
    private void countInSql(UUID[] hosts, Map<Tags, Integer> gpus, Map<Tags, Integer> partitions) {
        jdbc.sql("""
                SELECT coalesce(h.gpu_model, 'unknown'), h.location,
                       count(*) FILTER (WHERE d.vm_id IS NULL AND d.health = 'ok' AND h.state = 'ready'
                                          AND NOT (d.module_id = ANY (coalesce(a.modules, '{}'))))
                  FROM pci_device d JOIN host h ON h.id = d.host_id
                  LEFT JOIN (SELECT p.host_id, array_agg(m) AS modules FROM gpu_partition p, unnest(p.module_ids) m
                              WHERE p.vm_id IS NOT NULL GROUP BY p.host_id) a ON a.host_id = h.id
                 WHERE d.kind = 'gpu' AND d.health <> 'missing' AND (CAST(? AS uuid[]) IS NULL OR h.id = ANY (?))
                 GROUP BY 1, 2
                """).params(hosts, hosts).query(rs -> {
            gpus.merge(Tags.of("model", rs.getString(1), "location", rs.getString(2)), rs.getInt(3), Integer::sum);
        });
        jdbc.sql("""
                SELECT coalesce(h.gpu_model, 'unknown'), p.gpu_count,
                       count(*) FILTER (WHERE h.state = 'ready' AND h.fabric_mode = 'SHARED_NVSWITCH'
                                          AND p.available AND p.vm_id IS NULL
                                          AND p.module_ids <@ coalesce(ok.modules, '{}')
                                          AND NOT (p.module_ids && coalesce(a.modules, '{}')))
                  FROM gpu_partition p JOIN host h ON h.id = p.host_id
                  -- per host, the modules of its healthy free GPUs, and those of allocated partitions
                  LEFT JOIN (SELECT host_id, array_agg(module_id) AS modules FROM pci_device
                              WHERE kind = 'gpu' AND module_id IS NOT NULL AND vm_id IS NULL AND health = 'ok'
                              GROUP BY host_id) ok ON ok.host_id = p.host_id
                  LEFT JOIN (SELECT host_id, array_agg(m) AS modules FROM gpu_partition, unnest(module_ids) m
                              WHERE vm_id IS NOT NULL GROUP BY host_id) a ON a.host_id = p.host_id
                 WHERE (CAST(? AS uuid[]) IS NULL OR h.id = ANY (?))
                 GROUP BY 1, 2
                """).params(hosts, hosts).query(rs -> {
            partitions.merge(Tags.of("model", rs.getString(1), "size", String.valueOf(rs.getInt(2))), rs.getInt(3),
                    Integer::sum);
        });
    }
}
