package io.gpucloud.controlplane.inventory;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.HashMap;
import java.util.Map;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * Fleet gauges for Prometheus: hosts per state, how long ago each worker was heard, and how many
 * ready hosts hold each boot image. Sampled from
 * SQL on a timer so a scrape never waits on the database. (Free GPUs and partitions are counted by
 * placement's {@code CapacityMetrics}, from its fleet cache.)
 */
@Component
class InventoryMetrics {

    private final JdbcClient jdbc;
    private final GaugeFamily hosts;
    private final GaugeFamily heartbeatAge;
    private final GaugeFamily bootImageHosts;

    InventoryMetrics(JdbcClient jdbc, MeterRegistry registry) {
        this.jdbc = jdbc;
        this.hosts = new GaugeFamily(registry, "gpucloud.hosts", "Hosts by state", null);
        this.heartbeatAge = new GaugeFamily(registry, "gpucloud.worker.heartbeat.age",
                "Seconds since each host worker was last heard", "seconds");
        this.bootImageHosts = new GaugeFamily(registry, "gpucloud.boot.image.hosts",
                "Ready hosts whose worker reports holding each boot image (by path); compare with "
                        + "gpucloud_hosts{state=\"ready\"} to see where an image is missing", null);
    }

    @Scheduled(fixedDelayString = "${gpucloud.metrics.sample-period:10s}", initialDelay = 1000)
    void sample() {
        hosts.update(rows("SELECT state, count(*) FROM host GROUP BY state", rs -> Tags.of("state", rs.getString(1))));
        heartbeatAge.update(rows("""
                SELECT name, EXTRACT(EPOCH FROM now() - last_heartbeat_at) FROM host WHERE last_heartbeat_at IS NOT NULL
                """, rs -> Tags.of("host", rs.getString(1))));
        bootImageHosts.update(rows("""
                SELECT image, count(*) FROM host, unnest(boot_images) AS image WHERE state = 'ready' GROUP BY image
                """, rs -> Tags.of("image", rs.getString(1))));
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
