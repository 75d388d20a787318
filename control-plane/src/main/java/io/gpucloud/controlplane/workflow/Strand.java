package io.gpucloud.controlplane.workflow;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * The running state of one prog: its current label, its stack (parameters and progress, stored as
 * jsonb) and how often the current label has failed. Changes to the stack are saved with the
 * label's outcome.
 */
public final class Strand {

    private final UUID id;
    private final String prog;
    private final String label;
    private final int tries;
    private final Map<String, Object> stack;
    private final StrandStore store;
    // the strand's semaphores, read once per label run: the label holds the strand's row lock, and
    // StrandStore.signal takes it (through wake) before its transaction commits, so one raised while
    // the label runs is seen by the next run, which that signal's wake-up makes due
    private Set<String> semaphores;

    Strand(UUID id, String prog, String label, int tries, Map<String, Object> stack, StrandStore store) {
        this.id = id;
        this.prog = prog;
        this.label = label;
        this.tries = tries;
        this.stack = new LinkedHashMap<>(stack);
        this.store = store;
    }

    public UUID id() {
        return id;
    }

    public String prog() {
        return prog;
    }

    public String label() {
        return label;
    }

    /** How many times this label failed with an exception before this run. */
    public int tries() {
        return tries;
    }

    public Map<String, Object> stack() {
        return stack;
    }

    public String string(String key) {
        Object v = stack.get(key);
        return v == null ? null : v.toString();
    }

    public int integer(String key, int fallback) {
        Object v = stack.get(key);
        return v instanceof Number n ? n.intValue() : v == null ? fallback : Integer.parseInt(v.toString());
    }

    public UUID uuid(String key) {
        String v = string(key);
        return v == null ? null : UUID.fromString(v);
    }

    public void put(String key, Object value) {
        stack.put(key, value);
    }

    /** Whether someone signalled this strand (e.g. "destroy"); the signal stays until taken. */
    public boolean signalled(String semaphore) {
        return semaphores().contains(semaphore);
    }

    /** Consumes a signal, in the label's transaction. */
    public void take(String semaphore) {
        if (semaphores().remove(semaphore)) {
            store.clearSemaphore(id, semaphore);
        }
    }

    private Set<String> semaphores() {
        if (semaphores == null) {
            semaphores = new HashSet<>(store.semaphores(id));
        }
        return semaphores;
    }
}
