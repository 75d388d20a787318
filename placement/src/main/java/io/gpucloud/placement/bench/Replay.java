package io.gpucloud.placement.bench;

import io.gpucloud.placement.NumaPolicy;
import io.gpucloud.placement.Placement;
import io.gpucloud.placement.PlacementDecision;
import io.gpucloud.placement.PlacementPolicy;
import io.gpucloud.placement.PlacementRequest;

import java.time.Duration;
import java.time.Instant;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;

/**
 * Replays a {@link Trace} through a {@link PlacementPolicy} on a {@link SimFleet}: departures
 * first, then the arrival is decided on fresh snapshots; the best placement is applied (the fleet
 * checks it), or the arrival is rejected (no queue). Statistics skip the first {@code warmup}
 * arrivals. Each VM asks for 24 vCPUs and 240 GiB of 1 GiB hugepages per GPU (NUMA PREFERRED),
 * which always fits locally, so GPUs are the only scarce resource.
 */
public final class Replay {

    public static final long HOUR_MS = 3_600_000L;
    public static final long EPOCH_MS = 1_700_000_000_000L;

    /**
     * The lifetime hint the policy sees, both as the request's expectedDuration and in the hosts'
     * vmEndTimes: none, exact, or the exact lifetime times exp(σ·N(0,1)).
     */
    public record Hint(String label, double sigma) {
        public static final Hint NONE = new Hint("no hint", Double.NaN);
        public static final Hint EXACT = new Hint("exact hint", 0);

        public static Hint noisy(double sigma) {
            return new Hint(String.format(java.util.Locale.ROOT, "hint x LN(%.1f)", sigma), sigma);
        }

        public boolean none() {
            return Double.isNaN(sigma);
        }
    }

    public record Result(String policy, double load, int arrivals, int rejected, int fragRejected, int arrivals8,
                         int accepted8, double utilization, double microsPerDecide) {

        public double rejectionRate() {
            return arrivals == 0 ? 0 : rejected / (double) arrivals;
        }

        /** Share of rejections that happened although enough GPUs were free fleet-wide. */
        public double fragShare() {
            return rejected == 0 ? 0 : fragRejected / (double) rejected;
        }

        /** Fragmentation-caused rejections per arrival. */
        public double fragRate() {
            return arrivals == 0 ? 0 : fragRejected / (double) arrivals;
        }

        public double accept8() {
            return arrivals8 == 0 ? 1 : accepted8 / (double) arrivals8;
        }

        /** Counts added, utilization and decide time averaged (pooling replicas of one load point). */
        public Result plus(Result o) {
            return new Result(policy, load, arrivals + o.arrivals, rejected + o.rejected, fragRejected + o.fragRejected,
                    arrivals8 + o.arrivals8, accepted8 + o.accepted8,
                    (utilization * arrivals + o.utilization * o.arrivals) / Math.max(1, arrivals + o.arrivals),
                    (microsPerDecide * arrivals + o.microsPerDecide * o.arrivals) / Math.max(1, arrivals + o.arrivals));
        }
    }

    private Replay() {
    }

    public static Result run(String name, Trace trace, int boards, int warmup,
                             Function<SimClock, PlacementPolicy> factory, Hint hint) {
        SimClock clock = new SimClock(EPOCH_MS);
        PlacementPolicy policy = factory.apply(clock);
        SimFleet fleet = new SimFleet(boards);
        int n = trace.size();
        double[] end = new double[n];
        int[] hostOf = new int[n];
        UUID[] ids = new UUID[n];
        PriorityQueue<Integer> live = new PriorityQueue<>(256, (a, b) -> Double.compare(end[a], end[b]));
        int arrivals = 0, rejected = 0, frag = 0, arr8 = 0, acc8 = 0;
        double busyIntegral = 0, lastT = 0, startT = Double.NaN;
        long decideNanos = 0;
        for (int i = 0; i < n; i++) {
            double t = trace.time[i];
            while (!live.isEmpty() && end[live.peek()] <= t) {
                int v = live.poll();
                if (!Double.isNaN(startT)) {
                    busyIntegral += (fleet.totalGpus() - fleet.freeGpus()) * (end[v] - lastT);
                    lastT = end[v];
                }
                fleet.release(hostOf[v], ids[v]);
            }
            boolean counted = i >= warmup;
            if (counted && Double.isNaN(startT)) {
                startT = t;
                lastT = t;
            }
            if (counted) {
                busyIntegral += (fleet.totalGpus() - fleet.freeGpus()) * (t - lastT);
                lastT = t;
            }
            long nowMs = EPOCH_MS + Math.round(t * HOUR_MS);
            clock.set(nowMs);
            int g = trace.gpus[i];
            double hinted = hint.none() ? -1 : trace.hint(i, hint.sigma());
            Duration d = hinted < 0 ? null : Duration.ofMillis(Math.max(1, Math.round(hinted * HOUR_MS)));
            ids[i] = new UUID(trace.seed, i);
            PlacementRequest req = new PlacementRequest(ids[i], SimFleet.MODEL, g, 24 * g, 240L * 1024 * g, null,
                    Set.of(), NumaPolicy.PREFERRED, false, d);
            var snapshots = fleet.snapshots();
            long t0 = System.nanoTime();
            PlacementDecision dec = policy.decide(req, snapshots, fleet.emptyBoards());
            decideNanos += System.nanoTime() - t0;
            if (counted) {
                arrivals++;
                if (g == 8) {
                    arr8++;
                }
            }
            if (dec.placed()) {
                Placement p = dec.candidates().get(0);
                Instant expectedEnd = d == null ? null : Instant.ofEpochMilli(nowMs + d.toMillis());
                hostOf[i] = fleet.apply(ids[i], p, expectedEnd);
                end[i] = t + trace.lifetime[i];
                live.add(i);
                if (counted && g == 8) {
                    acc8++;
                }
            } else if (counted) {
                rejected++;
                if (fleet.freeGpus() >= g) {
                    frag++;
                }
            }
        }
        double span = lastT - startT;
        double util = span > 0 ? busyIntegral / span / fleet.totalGpus() : 0;
        return new Result(name, trace.load, arrivals, rejected, frag, arr8, acc8, util, decideNanos / 1e3 / n);
    }

    /**
     * The oracle: accepts whenever all live VMs plus the new one could be re-packed onto the
     * boards. It re-packs freely (migration), so only the count of live VMs per size matters.
     */
    public static Result oracle(Trace trace, int boards, int warmup) {
        int n = trace.size();
        double[] end = new double[n];
        int[] liveBySize = new int[9];
        PriorityQueue<Integer> live = new PriorityQueue<>(256, (a, b) -> Double.compare(end[a], end[b]));
        int arrivals = 0, rejected = 0, frag = 0, arr8 = 0, acc8 = 0, busy = 0;
        double busyIntegral = 0, lastT = 0, startT = Double.NaN;
        for (int i = 0; i < n; i++) {
            double t = trace.time[i];
            while (!live.isEmpty() && end[live.peek()] <= t) {
                int v = live.poll();
                if (!Double.isNaN(startT)) {
                    busyIntegral += busy * (end[v] - lastT);
                    lastT = end[v];
                }
                liveBySize[trace.gpus[v]]--;
                busy -= trace.gpus[v];
            }
            boolean counted = i >= warmup;
            if (counted && Double.isNaN(startT)) {
                startT = t;
                lastT = t;
            }
            if (counted) {
                busyIntegral += busy * (t - lastT);
                lastT = t;
                arrivals++;
            }
            int g = trace.gpus[i];
            if (counted && g == 8) {
                arr8++;
            }
            liveBySize[g]++;
            if (firstFitDecreasingBoards(liveBySize) <= boards) {
                busy += g;
                end[i] = t + trace.lifetime[i];
                live.add(i);
                if (counted && g == 8) {
                    acc8++;
                }
            } else {
                liveBySize[g]--;
                if (counted) {
                    rejected++;
                    if (boards * 8 - busy >= g) {
                        frag++;
                    }
                }
            }
        }
        double span = lastT - startT;
        return new Result("oracle (re-packs)", trace.load, arrivals, rejected, frag, arr8, acc8,
                span > 0 ? busyIntegral / span / (boards * 8.0) : 0, 0);
    }

    /**
     * Boards of 8 GPUs that first-fit-decreasing needs for {@code countBySize[s]} VMs of s GPUs
     * (s in 1, 2, 4, 8). Sizes divide 8, so when FFD places a VM of size s every open board's free
     * room is a multiple of s: FFD leaves at most one board partly filled and needs exactly
     * ceil(total / 8) boards, which is optimal. Computed size class by size class.
     */
    public static int firstFitDecreasingBoards(int[] countBySize) {
        int boards = 0;
        int room = 0; // free GPUs in the one partly filled board
        for (int s = 8; s >= 1; s >>= 1) {
            int c = countBySize[s];
            int inRoom = Math.min(c, room / s);
            room -= inRoom * s;
            c -= inRoom;
            if (c > 0) {
                int perBoard = 8 / s;
                int newBoards = (c + perBoard - 1) / perBoard;
                boards += newBoards;
                room += newBoards * 8 - c * s;
            }
        }
        return boards;
    }
}
