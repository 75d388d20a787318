package io.gpucloud.controlplane.inventory;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.HashMap;
import java.util.Map;

/**
 * A family of gauges (one metric name, one gauge per tag set) whose values are replaced by each
 * sample. Unlike Micrometer's {@code MultiGauge} with overwrite, a gauge that stays is updated in
 * place rather than removed and registered again: that re-registration can race a Prometheus scrape
 * and fail it with {@code DuplicateLabelsException} (micrometer#6851, seen here as a 500 from
 * {@code /actuator/prometheus}). Tag sets that vanish from a sample are removed.
 */
public final class GaugeFamily {

    private static final class Value {
        volatile double current;
    }

    private final MeterRegistry registry;
    private final String name;
    private final String description;
    private final String baseUnit;
    private final Map<Tags, Value> values = new HashMap<>();
    private final Map<Tags, Gauge> gauges = new HashMap<>();

    public GaugeFamily(MeterRegistry registry, String name, String description, String baseUnit) {
        this.registry = registry;
        this.name = name;
        this.description = description;
        this.baseUnit = baseUnit;
    }

    public synchronized void update(Map<Tags, ? extends Number> sample) {
        for (Map.Entry<Tags, ? extends Number> e : sample.entrySet()) {
            Value v = values.get(e.getKey());
            if (v == null) {
                v = new Value();
                values.put(e.getKey(), v);
                gauges.put(e.getKey(), Gauge.builder(name, v, x -> x.current).tags(e.getKey())
                        .description(description).baseUnit(baseUnit).strongReference(true).register(registry));
            }
            v.current = e.getValue().doubleValue();
        }
        for (var it = gauges.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (!sample.containsKey(e.getKey())) {
                registry.remove(e.getValue());
                values.remove(e.getKey());
                it.remove();
            }
        }
    }
}
