package io.gpucloud.placement.bench;

import io.gpucloud.placement.AllocationUnit;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.PlacementPolicy;
import io.gpucloud.placement.Scorer;
import io.gpucloud.placement.ScoringContext;
import io.gpucloud.placement.WeightedScorer;

import java.time.Clock;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The peers' whole policies (DESIGN.md §6), built on the same filter chain as ours so that only
 * host and partition choice differ. Every baseline takes, on the host it picked, the
 * lowest-numbered free partition of the exact size: its host score is the same for all units of a
 * host and the policy breaks ties by unit order (= partition id). These scorers keep per-decide
 * state (random draws), so each baseline instance serves one single-threaded replay.
 */
public final class Baselines {

    private Baselines() {
    }

    /** Kubernetes + KubeVirt partition PR: LeastAllocated (most free GPUs after placement wins), random among ties. */
    public static PlacementPolicy spread(Clock clock, long seed) {
        return policy(clock, new PerHostRandom("least-allocated", seed) {
            @Override
            double hostScore(ScoringContext ctx, HostView host, double random) {
                int usable = Math.max(1, host.usableGpus());
                return 1.0 - (host.freeGpus() - ctx.request().gpuCount()) / (double) usable + 1e-6 * random;
            }
        });
    }

    /** Ubicloud: |0.72 − utilization after placement| (+1 past the target) + random 0–0.1, lowest wins. */
    public static PlacementPolicy ubicloud(Clock clock, long seed) {
        return policy(clock, new PerHostRandom("ubicloud-utilization", seed) {
            @Override
            double hostScore(ScoringContext ctx, HostView host, double random) {
                double u = (host.heldGpus() + ctx.request().gpuCount()) / (double) Math.max(1, host.usableGpus());
                return Math.abs(0.72 - u) + (u > 0.72 ? 1 : 0) + 0.1 * random;
            }
        });
    }

    /** Global first-fit: hosts in id order, lowest partition id. */
    public static PlacementPolicy firstFit(Clock clock) {
        return policy(clock, new Scorer() {
            @Override
            public String name() {
                return "first-fit";
            }

            @Override
            public double score(ScoringContext ctx, HostView host, AllocationUnit unit) {
                return host.index();
            }
        });
    }

    /** A uniformly random feasible (host, partition) pair. */
    public static PlacementPolicy random(Clock clock, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        return policy(clock, new Scorer() {
            @Override
            public String name() {
                return "random";
            }

            @Override
            public double score(ScoringContext ctx, HostView host, AllocationUnit unit) {
                return rnd.nextDouble();
            }
        });
    }

    private static PlacementPolicy policy(Clock clock, Scorer hostScorer) {
        return new PlacementPolicy(PlacementPolicy.defaultFilters(), List.of(new WeightedScorer(hostScorer, 1.0)),
                clock, 1);
    }

    /** One random draw per host per decide() (the policy scores a host's units consecutively). */
    private abstract static class PerHostRandom implements Scorer {
        private final String name;
        private final SplittableRandom rnd;
        private HostView last;
        private double draw;

        PerHostRandom(String name, long seed) {
            this.name = name;
            this.rnd = new SplittableRandom(seed);
        }

        abstract double hostScore(ScoringContext ctx, HostView host, double random);

        @Override
        public String name() {
            return name;
        }

        @Override
        public double score(ScoringContext ctx, HostView host, AllocationUnit unit) {
            if (host != last) {
                last = host;
                draw = rnd.nextDouble();
            }
            return hostScore(ctx, host, draw);
        }
    }
}
