package io.gpucloud.controlplane.inventory;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.HashMap;
import java.util.Map;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * Fleet gauges for Prometheus: hosts per state and how long ago each worker was heard. Sampled from
 * SQL on a timer so a scrape never waits on the database. (Free GPUs and partitions are counted by
 * placement's {@code CapacityMetrics}, from its fleet cache.)
 */
@Component
class InventoryMetrics {

    private final JdbcClient jdbc;
    private final GaugeFamily hosts;
    private final GaugeFamily heartbeatAge;

    InventoryMetrics(JdbcClient jdbc, MeterRegistry registry) {
        this.jdbc = jdbc;
        this.hosts = new GaugeFamily(registry, "gpucloud.hosts", "Hosts by state", null);
        this.heartbeatAge = new GaugeFamily(registry, "gpucloud.worker.heartbeat.age",
                "Seconds since each host worker was last heard", "seconds");
    }

    @Scheduled(fixedDelayString = "${gpucloud.metrics.sample-period:10s}", initialDelay = 1000)
    void sample() {
        hosts.update(rows("SELECT state, count(*) FROM host GROUP BY state", rs -> Tags.of("state", rs.getString(1))));
        heartbeatAge.update(rows("""
                SELECT name, EXTRACT(EPOCH FROM now() - last_heartbeat_at) FROM host WHERE last_heartbeat_at IS NOT NULL
                """, rs -> Tags.of("host", rs.getString(1))));
    }

    /** One gauge value per row: the tags from {@code tags}, the value from the last column. */
    private Map<Tags, Double> rows(String sql, TagsOf tags) {
        Map<Tags, Double> out = new HashMap<>();
        jdbc.sql(sql).query(rs -> {
            out.put(tags.of(rs), rs.getDouble(rs.getMetaData().getColumnCount()));
        });
        return out;
    }

    private interface TagsOf {
        Tags of(java.sql.ResultSet rs) throws java.sql.SQLException;
    }
}
