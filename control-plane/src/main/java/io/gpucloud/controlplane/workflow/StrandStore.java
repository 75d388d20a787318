package io.gpucloud.controlplane.workflow;

import java.util.Map;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.json.JsonMapper;

/** Strand rows, semaphores and wake-ups. Writes join the caller's transaction. */
@Component
public class StrandStore {

    static final String CHANNEL = "strand_wakeup";

    private final JdbcClient jdbc;
    private final JsonMapper json;

    public StrandStore(JdbcClient jdbc, JsonMapper json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    /** Creates a strand due now; dispatchers hear about it at once through NOTIFY. */
    public UUID create(String prog, String label, Map<String, Object> stack) {
        UUID id = UUID.randomUUID();
        create(id, prog, label, stack);
        return id;
    }

    /** As {@link #create(String, String, Map)}, with an id the caller chose (to store it first). */
    public void create(UUID id, String prog, String label, Map<String, Object> stack) {
        jdbc.sql("INSERT INTO strand (id, prog, label, stack) VALUES (?, ?, ?, ?::jsonb)")
                .params(id, prog, label, json.writeValueAsString(stack)).update();
        notifyDispatchers();
    }

    /** Raises a semaphore and wakes the strand; the label that runs next sees it (see {@link #wake}). */
    public void signal(UUID strandId, String semaphore) {
        jdbc.sql("INSERT INTO semaphore (strand_id, name) VALUES (?, ?)").params(strandId, semaphore).update();
        wake(strandId);
    }

    /**
     * Makes the strand due now, because something it waits for changed in this transaction (a job's
     * result, a signal). The update matches the strand whether it naps or is due already, so it takes
     * the strand's row lock and keeps it until this transaction ends, as every label run does. A label
     * running now finishes first, and the update then sees its nap and ends it. A strand that was due
     * already (napping on nothing, or between two labels of a hop) runs its next label only after this
     * commits, so that label sees the change. A wake-up that matched napping strands only left a due
     * strand unlocked: a label run that began before this commit saw nothing new and napped, and the
     * change waited for the end of the nap (30 s for a job, an hour at running).
     */
    public void wake(UUID strandId) {
        jdbc.sql("UPDATE strand SET schedule = LEAST(schedule, now()) WHERE id = ? AND exitval IS NULL")
                .param(strandId).update();
        notifyDispatchers();
    }

    /**
     * As {@link #wake}, for several strands: locked in id order, so that two callers waking
     * overlapping sets never wait for each other in a cycle.
     */
    public void wakeAll(java.util.Collection<UUID> strandIds) {
        if (strandIds.isEmpty()) {
            return;
        }
        jdbc.sql("""
                UPDATE strand SET schedule = LEAST(schedule, now())
                 WHERE id IN (SELECT id FROM strand WHERE id = ANY(?) AND exitval IS NULL ORDER BY id
                              FOR NO KEY UPDATE)
                """).param(strandIds.toArray(UUID[]::new)).update();
        notifyDispatchers();
    }

    java.util.List<String> semaphores(UUID strandId) {
        return jdbc.sql("SELECT name FROM semaphore WHERE strand_id = ?").param(strandId).query(String.class).list();
    }

    void clearSemaphore(UUID strandId, String name) {
        jdbc.sql("DELETE FROM semaphore WHERE strand_id = ? AND name = ?").params(strandId, name).update();
    }

    // NOTIFY is transactional: listeners hear it when (and only if) the surrounding transaction commits.
    private void notifyDispatchers() {
        jdbc.sql("SELECT pg_notify(?, '')").param(CHANNEL).query(Object.class).single();
    }

    Map<String, Object> parseStack(String value) {
        return json.readValue(value, new TypeReference<Map<String, Object>>() { });
    }

    String writeStack(Map<String, Object> stack) {
        return json.writeValueAsString(stack);
    }
}
