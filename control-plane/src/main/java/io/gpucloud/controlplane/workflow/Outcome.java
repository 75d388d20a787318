package io.gpucloud.controlplane.workflow;

import java.time.Duration;

/** What a label asks the dispatcher to do next, committed atomically with the label's writes. */
public sealed interface Outcome {

    /** Continue at another label now. */
    record Hop(String label) implements Outcome {
    }

    /** Run this label again after a while, or sooner when something wakes the strand. */
    record Nap(Duration duration) implements Outcome {
    }

    /**
     * Continue at another label, but only after a while or when something wakes the strand: for a
     * label whose first run would only find nothing to do and nap.
     */
    record NapAt(String label, Duration duration) implements Outcome {
    }

    /** The strand is done. */
    record Exit(String result) implements Outcome {
    }

    static Outcome hop(String label) {
        return new Hop(label);
    }

    static Outcome nap(Duration duration) {
        return new Nap(duration);
    }

    static Outcome napAt(String label, Duration duration) {
        return new NapAt(label, duration);
    }

    static Outcome exit(String result) {
        return new Exit(result);
    }
}
