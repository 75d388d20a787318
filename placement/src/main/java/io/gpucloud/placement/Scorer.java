package io.gpucloud.placement;

/**
 * A score plugin: a penalty for giving the request {@code unit} on {@code host}; lower is better.
 * Implementations return roughly 0..1 so that {@link PolicyWeights} compare like with like. The
 * policy adds the weighted penalties of all scorers; the lowest total wins.
 */
public interface Scorer {

    String name();

    double score(ScoringContext ctx, HostView host, AllocationUnit unit);
}
