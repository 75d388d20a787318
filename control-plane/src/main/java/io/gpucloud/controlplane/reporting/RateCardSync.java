package io.gpucloud.controlplane.reporting;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.core.io.Resource;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Keeps {@code reporting.rate_card} in step with the instance-type catalog at startup. The first
 * price seen for a type applies since forever; a changed price gets a new row effective now, so
 * months already billed keep the price they were billed at.
 */
@Component
class RateCardSync implements ApplicationRunner {

    private final Resource catalog;
    private final JdbcClient jdbc;

    RateCardSync(@Value("${gpucloud.api.instance-types:classpath:catalog/instance-types.json}") Resource catalog,
                 JdbcClient jdbc) {
        this.catalog = catalog;
        this.jdbc = jdbc;
    }

    @Override
    public void run(ApplicationArguments args) {
        sync();
    }

    int sync() {
        JsonNode root;
        try (InputStream in = catalog.getInputStream()) {
            root = JsonMapper.builder().build().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the instance-type catalog " + catalog, e);
        }
        int changed = 0;
        for (JsonNode t : root.path("instanceTypes")) {
            String name = t.path("name").asString();
            java.math.BigDecimal price = t.path("pricePerHour").decimalValue();
            changed += jdbc.sql("""
                    INSERT INTO reporting.rate_card (instance_type, location, price_per_hour, effective_from)
                    SELECT :name, NULL, :price,
                           CASE WHEN EXISTS (SELECT 1 FROM reporting.rate_card
                                              WHERE instance_type = :name AND location IS NULL
                                                AND source = 'catalog')
                                THEN now() ELSE '-infinity'::timestamptz END
                     WHERE (SELECT price_per_hour FROM reporting.rate_card
                             WHERE instance_type = :name AND location IS NULL AND source = 'catalog'
                             ORDER BY effective_from DESC LIMIT 1) IS DISTINCT FROM CAST(:price AS numeric)
                    ON CONFLICT DO NOTHING
                    """).param("name", name).param("price", price).update();
        }
        return changed;
    }
}
