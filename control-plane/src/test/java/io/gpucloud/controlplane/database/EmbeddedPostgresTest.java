package io.gpucloud.controlplane.database;

import static org.assertj.core.api.Assertions.assertThat;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedded default must keep an operator's fleet across restarts of the control plane. */
class EmbeddedPostgresTest {

    @TempDir
    Path dataDir;

    @Test
    void dataSurvivesARestart() throws Exception {
        var config = new EmbeddedPostgresConfiguration();
        var none = new org.springframework.mock.env.MockEnvironment();
        try (EmbeddedPostgres first = config.embeddedPostgres(dataDir.toString(), false, 0, none);
             Connection c = first.getPostgresDatabase().getConnection()) {
            c.createStatement().execute("CREATE TABLE survivor (name text)");
            c.createStatement().execute("INSERT INTO survivor VALUES ('hgx-01')");
        }
        try (EmbeddedPostgres second = config.embeddedPostgres(dataDir.toString(), false, 0, none);
             Connection c = second.getPostgresDatabase().getConnection();
             ResultSet rs = c.createStatement().executeQuery("SELECT name FROM survivor")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("hgx-01");
        }
    }

    @Test
    void operatorSettingsReachPostgresql() throws Exception {
        var environment = new org.springframework.mock.env.MockEnvironment()
                .withProperty("gpucloud.embedded-postgres.settings.work_mem", "7MB")
                .withProperty("gpucloud.embedded-postgres.settings.shared_preload_libraries", "pg_stat_statements");
        try (EmbeddedPostgres pg = new EmbeddedPostgresConfiguration()
                     .embeddedPostgres(dataDir.toString(), true, 0, environment);
             Connection c = pg.getPostgresDatabase().getConnection()) {
            c.createStatement().execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
            ResultSet rs = c.createStatement().executeQuery("SHOW work_mem");
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("7MB");
            ResultSet calls = c.createStatement().executeQuery("SELECT count(*) FROM pg_stat_statements");
            assertThat(calls.next()).isTrue(); // the library is loaded, else the view refuses to be read
        }
    }

    @Test
    void theControlPlaneConnectsOverAUnixSocketUnlessToldNotTo() throws Exception {
        var socket = new org.springframework.mock.env.MockEnvironment();
        try (EmbeddedPostgres pg = new EmbeddedPostgresConfiguration()
                .embeddedPostgres(dataDir.toString(), true, 0, socket)) {
            String url = EmbeddedPostgresConfiguration.jdbcUrl(pg, dataDir.toString());
            assertThat(url).contains("socketFactory=");
            assertThat(serverAddress(url)).isNull(); // PostgreSQL's answer for a Unix-domain socket
            assertThat(java.nio.file.Files.getPosixFilePermissions(EmbeddedPostgresConfiguration.socketDirectory(
                    dataDir.toString()))).containsExactlyInAnyOrder(java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                    java.nio.file.attribute.PosixFilePermission.OWNER_WRITE,
                    java.nio.file.attribute.PosixFilePermission.OWNER_EXECUTE);
        }
        var tcp = new org.springframework.mock.env.MockEnvironment()
                .withProperty("gpucloud.embedded-postgres.unix-socket", "false");
        try (EmbeddedPostgres pg = new EmbeddedPostgresConfiguration()
                .embeddedPostgres(dataDir.resolve("tcp").toString(), true, 0, tcp)) {
            String url = EmbeddedPostgresConfiguration.jdbcUrl(pg, dataDir.resolve("tcp").toString());
            assertThat(url).doesNotContain("socketFactory");
            assertThat(serverAddress(url)).isNotNull(); // 127.0.0.1 or ::1
        }
        // a socket path longer than sun_path allows would stop PostgreSQL from starting: TCP instead
        String deep = dataDir.resolve("d".repeat(100)).toString();
        try (EmbeddedPostgres pg = new EmbeddedPostgresConfiguration().embeddedPostgres(deep, true, 0, socket)) {
            String url = EmbeddedPostgresConfiguration.jdbcUrl(pg, deep);
            assertThat(url).doesNotContain("socketFactory");
            assertThat(serverAddress(url)).isNotNull();
        }
    }

    private static String serverAddress(String url) throws Exception {
        try (Connection c = java.sql.DriverManager.getConnection(url);
             ResultSet rs = c.createStatement().executeQuery("SELECT inet_server_addr()::text")) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        }
    }
}
