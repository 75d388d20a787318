package io.gpucloud.placement;

/** A scorer with its weight; weight 0 switches it off (it is then not even called). */
public record WeightedScorer(Scorer scorer, double weight) {
    public WeightedScorer {
        if (scorer == null) {
            throw new IllegalArgumentException("scorer");
        }
        if (!(weight >= 0) || Double.isInfinite(weight)) {
            throw new IllegalArgumentException("weight must be finite and >= 0: " + weight);
        }
    }
}
