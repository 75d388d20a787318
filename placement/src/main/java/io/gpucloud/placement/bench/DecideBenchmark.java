package io.gpucloud.placement.bench;

import io.gpucloud.placement.HostSnapshot;
import io.gpucloud.placement.NumaPolicy;
import io.gpucloud.placement.PlacementDecision;
import io.gpucloud.placement.PlacementPolicy;
import io.gpucloud.placement.PlacementRequest;
import io.gpucloud.placement.PolicyWeights;

import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.UUID;

/**
 * decide() latency on one thread: fleets of 200 and 2,000 HGX H100 hosts (208 logical CPUs, 15
 * partitions, lifetime hints each), filled to about 70 % of their GPUs by the policy itself, then
 * timed on random 1/2/4/8-GPU requests against fixed snapshots (what the control plane does after
 * loading candidates from SQL), after a 3-second JIT warm-up. Options: {@code --iterations N} (default 5000), {@code --sizes 200,2000}.
 */
public final class DecideBenchmark {

    public static void main(String[] args) {
        int iterations = 5000;
        int[] sizes = {200, 2000};
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--iterations" -> iterations = Integer.parseInt(args[++i]);
                case "--sizes" -> sizes = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        System.out.printf(Locale.ROOT, "decide() latency, one thread, %s, %d timed decisions per fleet%n",
                System.getProperty("java.vm.name") + " " + System.getProperty("java.version"), iterations);
        System.out.printf(Locale.ROOT, "%-8s %10s %10s %10s %10s %14s%n", "hosts", "p50 us", "p99 us", "max us",
                "mean us", "decisions/s");
        for (int n : sizes) {
            run(n, iterations);
        }
    }

    static void run(int hosts, int iterations) {
        SimClock clock = new SimClock(Replay.EPOCH_MS);
        PlacementPolicy policy = new PlacementPolicy(PolicyWeights.DEFAULTS, clock);
        SimFleet fleet = new SimFleet(hosts);
        SplittableRandom rnd = new SplittableRandom(42);
        int vm = 0;
        while (fleet.freeGpus() > fleet.totalGpus() * 0.30) {
            PlacementRequest r = request(rnd, vm++);
            PlacementDecision d = policy.decide(r, fleet.snapshots());
            if (d.placed()) {
                fleet.apply(r.vmId(), d.candidates().get(0),
                        Instant.ofEpochMilli(clock.millis() + r.expectedDuration().toMillis()));
            }
        }
        List<HostSnapshot> snapshots = List.copyOf(fleet.snapshots());
        // warm-up until the JIT has settled (at least 3 s and 2,000 decisions), then measure
        long sink = 0;
        long warmUntil = System.nanoTime() + 3_000_000_000L;
        for (int i = 0; i < 2000 || System.nanoTime() < warmUntil; i++) {
            sink += policy.decide(request(rnd, vm++), snapshots).candidates().size();
        }
        long[] nanos = new long[iterations];
        long total = 0;
        for (int i = 0; i < iterations; i++) {
            PlacementRequest r = request(rnd, vm++);
            long t0 = System.nanoTime();
            PlacementDecision d = policy.decide(r, snapshots);
            long dt = System.nanoTime() - t0;
            nanos[i] = dt;
            total += dt;
            sink += d.candidates().size();
        }
        Arrays.sort(nanos);
        double mean = total / (double) iterations;
        System.out.printf(Locale.ROOT, "%-8d %10.1f %10.1f %10.1f %10.1f %14.0f%n", hosts,
                nanos[iterations / 2] / 1e3, nanos[(int) (iterations * 0.99)] / 1e3, nanos[iterations - 1] / 1e3,
                mean / 1e3, 1e9 / mean);
        if (sink == 42) {
            System.out.print("");
        }
    }

    private static PlacementRequest request(SplittableRandom rnd, int i) {
        double u = rnd.nextDouble();
        int g = u < 0.4 ? 1 : u < 0.7 ? 2 : u < 0.9 ? 4 : 8;
        Duration d = Duration.ofMillis(1 + (long) (-Math.log(1 - rnd.nextDouble()) * Replay.HOUR_MS));
        return new PlacementRequest(new UUID(7, i), SimFleet.MODEL, g, 24 * g, 240L * 1024 * g, null, Set.of(),
                NumaPolicy.PREFERRED, false, d);
    }
}
