package io.gpucloud.controlplane.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLTransientConnectionException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The queue in front of the pool: first come, first served, a permit per connection, the pool's timeout. */
class FairConnectionGateTest {

    @TempDir
    static Path dataDir;
    static EmbeddedPostgres postgres;
    static ExecutorService threads = Executors.newCachedThreadPool();

    @BeforeAll
    static void start() throws Exception {
        postgres = new EmbeddedPostgresConfiguration().embeddedPostgres(dataDir.toString(), true, 0,
                new org.springframework.mock.env.MockEnvironment());
    }

    @AfterAll
    static void stop() throws Exception {
        threads.shutdownNow();
        postgres.close();
    }

    private static FairConnectionGate gate(int connections, long timeoutMillis) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(postgres.getJdbcUrl("postgres", "postgres"));
        config.setUsername("postgres");
        config.setMaximumPoolSize(connections);
        config.setConnectionTimeout(timeoutMillis);
        return new FairConnectionGate(new HikariDataSource(config));
    }

    @Test
    void waitersGetConnectionsInTheOrderTheyAskedAndEachCloseLetsOneIn() throws Exception {
        try (FairConnectionGate gate = gate(2, 10_000)) {
            Connection a = gate.getConnection();
            Connection b = gate.getConnection();
            List<Integer> order = java.util.Collections.synchronizedList(new ArrayList<>());
            List<CompletableFuture<Connection>> waiting = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                int n = i;
                waiting.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        Connection c = gate.getConnection();
                        order.add(n);
                        return c;
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }, threads));
                Thread.sleep(100); // queued one after another
            }
            assertThat(order).isEmpty();

            a.close();
            a.close(); // a second close gives nothing back twice
            Connection first = waiting.get(0).get(5, TimeUnit.SECONDS);
            Thread.sleep(200);
            assertThat(order).as("one close lets exactly one waiter in, the first").containsExactly(0);

            b.close();
            waiting.get(1).get(5, TimeUnit.SECONDS).close();
            first.close();
            waiting.get(2).get(5, TimeUnit.SECONDS).close();
            assertThat(order).containsExactly(0, 1, 2);
            try (Connection c = gate.getConnection()) {
                assertThat(c.createStatement().executeQuery("SELECT 1").next()).isTrue();
            }
        }
    }

    @Test
    void aCallerThatWaitsLongerThanThePoolWouldIsRefusedAndTakesNothing() throws Exception {
        try (FairConnectionGate gate = gate(1, 300)) {
            Connection held = gate.getConnection();
            long t0 = System.nanoTime();
            assertThatThrownBy(gate::getConnection).isInstanceOf(SQLTransientConnectionException.class)
                    .hasMessageContaining("no database connection free within 300 ms");
            assertThat((System.nanoTime() - t0) / 1_000_000).isGreaterThanOrEqualTo(290);
            held.close();
            assertThat(held.isClosed()).isTrue();
            try (Connection again = gate.getConnection()) {
                assertThat(again.isClosed()).isFalse();
            }
        }
    }
}
