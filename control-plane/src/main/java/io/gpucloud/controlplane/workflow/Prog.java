package io.gpucloud.controlplane.workflow;

import java.util.Set;

/**
 * A long-running process written as labeled steps (Ubicloud's progs). Each label runs inside one
 * transaction with the strand's row locked; its database writes commit together with the hop or
 * nap it returns, so a crash between labels resumes exactly at the next one. Labels must be
 * idempotent: a label interrupted by a crash runs again.
 */
public interface Prog {

    /** Stable name stored in {@code strand.prog}. */
    String name();

    Outcome run(String label, Strand strand);

    /**
     * Labels where a strand waits by design for as long as it takes (a VM that runs, one waiting for
     * capacity). However long a strand stays in one, it is not stuck.
     */
    default Set<String> restingLabels() {
        return Set.of();
    }
}
