package io.gpucloud.controlplane.workflow;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * For {@link SeveralInstancesTest}: three labels, each writing a row of its own and noting which
 * dispatcher ran it and whether another run of the same strand was in progress at that moment. The
 * second label naps, so that its strand goes back to every instance's queue. A class of its own
 * because Spring Boot's test scan skips classes nested in tests.
 */
@Component
class RelayTestProg extends ProgForTests {

    static final String NAME = "test-relay";
    static final Map<UUID, List<String>> LABELS_RUN = new ConcurrentHashMap<>();
    static final Set<String> OWNERS = ConcurrentHashMap.newKeySet();
    static final AtomicInteger OVERLAPS = new AtomicInteger();
    private static final Set<UUID> IN_PROGRESS = ConcurrentHashMap.newKeySet();

    RelayTestProg(JdbcClient jdbc) {
        super(NAME, jdbc);
    }

    @Override
    public Outcome run(String label, Strand strand) {
        if (!IN_PROGRESS.add(strand.id())) {
            OVERLAPS.incrementAndGet();
        }
        try {
            LABELS_RUN.computeIfAbsent(strand.id(), k -> Collections.synchronizedList(new ArrayList<>())).add(label);
            OWNERS.add(jdbc.sql("SELECT lease_owner FROM strand WHERE id = ?").param(strand.id())
                    .query(String.class).single());
            jdbc.sql("INSERT INTO semaphore (strand_id, name) VALUES (?, ?)").params(strand.id(), "ran-" + label)
                    .update();
            sleep(); // a label that takes a moment leaves the other instances time to try for the same strand
            return switch (label) {
                case "first" -> Outcome.hop("second");
                case "second" -> Outcome.napAt("third", Duration.ZERO);
                default -> Outcome.exit("relayed");
            };
        } finally {
            IN_PROGRESS.remove(strand.id());
        }
    }

    private static void sleep() {
        try {
            Thread.sleep(2);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
