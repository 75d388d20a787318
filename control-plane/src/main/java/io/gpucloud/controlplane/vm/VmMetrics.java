package io.gpucloud.controlplane.vm;

import io.gpucloud.controlplane.inventory.GaugeFamily;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * VMs by state, and how long the longest-waiting pending VM has waited. A VM waiting for capacity is
 * not a stuck workflow ({@link VmProg#restingLabels()}), so this is what to alert on when capacity runs
 * out. Sampled from SQL on the same timer as the fleet gauges, so a scrape never waits on the database.
 */
@Component
class VmMetrics {

    private final JdbcClient jdbc;
    private final GaugeFamily byState;
    private final AtomicLong oldestPendingMillis = new AtomicLong();

    VmMetrics(JdbcClient jdbc, MeterRegistry registry) {
        this.jdbc = jdbc;
        this.byState = new GaugeFamily(registry, "gpucloud.vms", "VMs by state (deleted ones left out)", null);
        Gauge.builder("gpucloud.vms.pending.oldest", oldestPendingMillis, v -> v.get() / 1000.0)
                .description("How long the longest-waiting pending VM has waited (0: none pending)").baseUnit("seconds")
                .register(registry);
    }

    @Scheduled(fixedDelayString = "${gpucloud.metrics.sample-period:10s}", initialDelay = 1000)
    void sample() {
        Map<Tags, Long> counts = new HashMap<>();
        // Deleted VMs stay for billing and outnumber live ones more every day: instead of a scan past all of
        // them, walk the distinct states along vm_state_created_idx and count only the live ones there.
        jdbc.sql("""
                WITH RECURSIVE states(state) AS (
                    SELECT min(state) FROM vm
                    UNION ALL
                    SELECT (SELECT min(v.state) FROM vm v WHERE v.state > s.state) FROM states s WHERE s.state IS NOT NULL)
                SELECT state, (SELECT count(*) FROM vm v WHERE v.state = states.state) FROM states
                 WHERE state IS NOT NULL AND state <> 'deleted'
                """)
                .query(rs -> {
                    counts.put(Tags.of("state", rs.getString(1)), rs.getLong(2));
                });
        byState.update(counts);
        oldestPendingMillis.set(jdbc.sql("""
                SELECT coalesce((EXTRACT(EPOCH FROM now() - min(created_at)) * 1000)::bigint, 0) FROM vm
                 WHERE state = 'pending'
                """).query(Long.class).single());
    }
}
