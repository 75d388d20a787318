package io.gpucloud.controlplane.inventory;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Tags;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** Fleet gauges are re-sampled every few seconds while Prometheus scrapes: a scrape must never fail. */
class GaugeFamilyTest {

    @Test
    void scrapesDuringResamplingNeverFailAndVanishedSeriesGoAway() throws Exception {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        GaugeFamily ages = new GaugeFamily(registry, "test.heartbeat.age", "age", "seconds");
        AtomicBoolean sampling = new AtomicBoolean(true);
        List<Throwable> failures = new ArrayList<>();
        Thread scraper = new Thread(() -> {
            while (sampling.get()) {
                try {
                    registry.scrape();
                } catch (Throwable t) {
                    synchronized (failures) {
                        failures.add(t);
                    }
                }
            }
        });
        scraper.start();
        for (int i = 0; i < 3000; i++) {
            ages.update(Map.of(Tags.of("host", "a"), i, Tags.of("host", "b"), i * 2));
        }
        sampling.set(false);
        scraper.join();
        assertThat(failures).as("scrapes that failed while the family was re-sampled").isEmpty();
        assertThat(registry.scrape()).contains("test_heartbeat_age_seconds{host=\"a\"} 2999.0")
                .contains("test_heartbeat_age_seconds{host=\"b\"} 5998.0");

        ages.update(Map.of(Tags.of("host", "b"), 1));
        assertThat(registry.scrape()).doesNotContain("host=\"a\"").contains("test_heartbeat_age_seconds{host=\"b\"} 1.0");
    }
}
