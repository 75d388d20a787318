package io.gpucloud.controlplane.database;

import java.sql.Connection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * One LISTEN connection for the whole instance, fanning PostgreSQL notifications out to in-process
 * subscribers. This is what lets a new VM start within milliseconds and a waiting worker get its
 * job at once, across control-plane instances, instead of at the next poll.
 */
@Component
public class PgNotifications implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(PgNotifications.class);
    public static final List<String> CHANNELS = List.of("strand_wakeup", "worker_job", "placement_host");

    private final DataSource dataSource;
    private final Map<String, List<Consumer<String>>> subscribers = new ConcurrentHashMap<>();
    private final List<Runnable> listeningCallbacks = new CopyOnWriteArrayList<>();
    private final AtomicBoolean running = new AtomicBoolean();
    private Thread thread;

    public PgNotifications(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /**
     * Runs {@code onListening} each time the LISTEN connection is (re)established: notifications sent
     * while it was down are lost, so a subscriber that waits for them should look again then.
     */
    public void onListening(Runnable onListening) {
        listeningCallbacks.add(onListening);
    }

    public void subscribe(String channel, Consumer<String> onPayload) {
        if (!CHANNELS.contains(channel)) {
            throw new IllegalArgumentException("unknown channel " + channel);
        }
        subscribers.computeIfAbsent(channel, k -> new CopyOnWriteArrayList<>()).add(onPayload);
    }

    @Override
    public void start() {
        if (running.compareAndSet(false, true)) {
            thread = new Thread(this::listen, "pg-listen");
            thread.setDaemon(true);
            thread.start();
        }
    }

    @Override
    public void stop() {
        running.set(false);
        if (thread != null) {
            try {
                thread.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public boolean isRunning() {
        return running.get();
    }

    @Override
    public int getPhase() {
        return Integer.MAX_VALUE - 200;
    }

    private void listen() {
        while (running.get()) {
            try (Connection c = dataSource.getConnection()) {
                c.setAutoCommit(true);
                try (var st = c.createStatement()) {
                    for (String channel : CHANNELS) {
                        st.execute("LISTEN " + channel);
                    }
                }
                for (Runnable r : listeningCallbacks) {
                    r.run();
                }
                PGConnection pg = c.unwrap(PGConnection.class);
                while (running.get()) {
                    PGNotification[] batch = pg.getNotifications(250);
                    if (batch == null) {
                        continue;
                    }
                    for (PGNotification n : batch) {
                        for (Consumer<String> s : subscribers.getOrDefault(n.getName(), List.of())) {
                            s.accept(n.getParameter());
                        }
                    }
                }
            } catch (Exception e) {
                if (running.get()) {
                    log.warn("LISTEN connection lost, reconnecting: {}", e.toString());
                    try {
                        Thread.sleep(1000);
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
        }
    }
}
