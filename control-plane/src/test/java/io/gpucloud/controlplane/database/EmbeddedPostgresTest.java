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
        try (EmbeddedPostgres first = config.embeddedPostgres(dataDir.toString(), false, 0);
             Connection c = first.getPostgresDatabase().getConnection()) {
            c.createStatement().execute("CREATE TABLE survivor (name text)");
            c.createStatement().execute("INSERT INTO survivor VALUES ('hgx-01')");
        }
        try (EmbeddedPostgres second = config.embeddedPostgres(dataDir.toString(), false, 0);
             Connection c = second.getPostgresDatabase().getConnection();
             ResultSet rs = c.createStatement().executeQuery("SELECT name FROM survivor")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("hgx-01");
        }
    }
}
