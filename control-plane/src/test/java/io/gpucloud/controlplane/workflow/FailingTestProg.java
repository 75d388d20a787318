package io.gpucloud.controlplane.workflow;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.LoggerFactory;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * For {@link DispatcherTest}: fails its only label a set number of times, each time after a write of its
 * own, then exits. A class of its own because Spring Boot's test scan skips classes nested in tests.
 */
@Component
class FailingTestProg extends ProgForTests {

    static final String NAME = "test-failing";
    static final Map<UUID, Integer> FAILURES_LEFT = new ConcurrentHashMap<>();
    static final Map<UUID, List<Instant>> RUNS = new ConcurrentHashMap<>();

    FailingTestProg(JdbcClient jdbc) {
        super(NAME, jdbc);
    }

    @Override
    public Outcome run(String label, Strand strand) {
        RUNS.computeIfAbsent(strand.id(), k -> Collections.synchronizedList(new ArrayList<>())).add(Instant.now());
        LoggerFactory.getLogger(FailingTestProg.class).info("{} runs {}", NAME, strand.id());
        jdbc.sql("INSERT INTO semaphore (strand_id, name) VALUES (?, 'written-before-failing')")
                .param(strand.id()).update();
        if (FAILURES_LEFT.merge(strand.id(), -1, Integer::sum) >= 0) {
            throw new IllegalStateException("the disk fell off");
        }
        jdbc.sql("DELETE FROM semaphore WHERE strand_id = ? AND name = 'written-before-failing'")
                .param(strand.id()).update();
        return Outcome.exit("done");
    }
}
