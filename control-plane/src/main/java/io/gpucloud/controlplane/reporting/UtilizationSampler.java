package io.gpucloud.controlplane.reporting;

import java.time.Duration;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Transactional;

/**
 * Records GPU totals per location and model into {@code reporting.utilization_sample} every
 * {@code gpucloud.reporting.utilization-sample-period} (default 1 minute), and drops samples older
 * than {@code gpucloud.reporting.utilization-retention} (default 90 days).
 */
@Component
public class UtilizationSampler {

    private final JdbcClient jdbc;
    private final Duration retention;

    public UtilizationSampler(JdbcClient jdbc,
                              @Value("${gpucloud.reporting.utilization-retention:90d}") Duration retention) {
        this.jdbc = jdbc;
        this.retention = retention;
    }

    @Scheduled(fixedDelayString = "${gpucloud.reporting.utilization-sample-period:1m}",
               initialDelayString = "${gpucloud.reporting.utilization-sample-period:1m}")
    @Transactional
    public int sample() {
        int n = jdbc.sql("""
                INSERT INTO reporting.utilization_sample (sampled_at, location, gpu_model, total, allocated)
                SELECT clock_timestamp(), location, gpu_model, total_gpus, allocated_gpus
                  FROM reporting.capacity WHERE gpu_model IS NOT NULL
                ON CONFLICT DO NOTHING
                """).update();
        jdbc.sql("DELETE FROM reporting.utilization_sample WHERE sampled_at < now() - make_interval(secs => ?)")
                .param(retention.toSeconds()).update();
        return n;
    }
}
