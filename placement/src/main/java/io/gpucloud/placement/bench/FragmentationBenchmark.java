package io.gpucloud.placement.bench;

import io.gpucloud.placement.PlacementPolicy;
import io.gpucloud.placement.PolicyWeights;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;

/**
 * The fragmentation benchmark of DESIGN.md §6: one seeded trace per offered load, replayed through
 * our {@link PlacementPolicy} and the peers' whole policies on 50 in-memory HGX H100 boards; prints
 * rejection rate, the share of rejections that happened although enough GPUs were free in total
 * (fragmentation-caused), and the 8-GPU acceptance rate.
 *
 * <p>Options: {@code --arrivals N} (per load, default 40000), {@code --warmup N} (default 4000),
 * {@code --boards N} (50), {@code --seed N} (20240611), {@code --loads 0.7,0.8,0.9,0.95},
 * {@code --sigma S} (log-normal error of the noisy hint, default 1.0), {@code --threads N}.
 */
public final class FragmentationBenchmark {

    public static void main(String[] args) throws Exception {
        int arrivals = 40_000;
        int warmup = -1;
        int boards = 50;
        long seed = 20240611L;
        double sigma = 1.0;
        double[] loads = {0.70, 0.80, 0.90, 0.95};
        int threads = Runtime.getRuntime().availableProcessors();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--arrivals" -> arrivals = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--boards" -> boards = Integer.parseInt(args[++i]);
                case "--seed" -> seed = Long.parseLong(args[++i]);
                case "--sigma" -> sigma = Double.parseDouble(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--loads" -> {
                    String[] p = args[++i].split(",");
                    loads = new double[p.length];
                    for (int k = 0; k < p.length; k++) {
                        loads[k] = Double.parseDouble(p[k]);
                    }
                }
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (warmup < 0) {
            warmup = arrivals / 10;
        }
        System.out.printf(Locale.ROOT, "Fragmentation benchmark: %d HGX H100 boards (%d GPUs), %d arrivals per load "
                        + "(first %d not counted), seed %d%n", boards, boards * 8, arrivals, warmup, seed);
        System.out.printf(Locale.ROOT, "GPU counts 1/2/4/8 at 40/30/20/10 %%, Poisson arrivals, exponential lifetimes "
                + "(mean 1 h), no queue; noisy hint = exact lifetime x lognormal(sigma=%.2f)%n%n", sigma);

        long t0 = System.nanoTime();
        List<Future<Replay.Result>> futures = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads));
        try {
            for (int li = 0; li < loads.length; li++) {
                Trace trace = new Trace(seed + li, arrivals, loads[li], boards * 8, sigma);
                for (Job job : jobs(seed + li)) {
                    final int b = boards;
                    final int w = warmup;
                    futures.add(pool.submit(() -> job.oracle
                            ? Replay.oracle(trace, b, w)
                            : Replay.run(job.name, trace, b, w, job.factory, job.hint)));
                }
            }
            List<Replay.Result> results = new ArrayList<>();
            for (Future<Replay.Result> f : futures) {
                results.add(f.get());
            }
            print(results);
        } finally {
            pool.shutdown();
        }
        System.out.printf(Locale.ROOT, "%n(%.1f s)%n", (System.nanoTime() - t0) / 1e9);
    }

    record Job(String name, Function<SimClock, PlacementPolicy> factory, Replay.Hint hint, boolean oracle) {
    }

    static List<Job> jobs(long seed) {
        List<Job> jobs = new ArrayList<>();
        jobs.add(new Job("k8s spread + lowest id", c -> Baselines.spread(c, seed), Replay.Hint.NONE, false));
        jobs.add(new Job("ubicloud-like", c -> Baselines.ubicloud(c, seed), Replay.Hint.NONE, false));
        jobs.add(new Job("random", c -> Baselines.random(c, seed), Replay.Hint.NONE, false));
        jobs.add(new Job("global first-fit", Baselines::firstFit, Replay.Hint.NONE, false));
        jobs.add(new Job("ours, no hint", FragmentationBenchmark::ours, Replay.Hint.NONE, false));
        jobs.add(new Job("ours, noisy hint", FragmentationBenchmark::ours, Replay.Hint.NOISY, false));
        jobs.add(new Job("ours, exact hint", FragmentationBenchmark::ours, Replay.Hint.EXACT, false));
        jobs.add(new Job("oracle (re-packs)", null, null, true));
        return jobs;
    }

    static PlacementPolicy ours(SimClock clock) {
        return new PlacementPolicy(PolicyWeights.DEFAULTS, clock);
    }

    static void print(List<Replay.Result> results) {
        String fmt = "%-6s %-24s %9s %12s %12s %10s %8s %10s%n";
        System.out.printf(Locale.ROOT, fmt, "load", "policy", "rejected", "frag-caused", "frag/arriv.", "8-GPU acc",
                "GPU util", "us/decide");
        double last = -1;
        for (Replay.Result r : results) {
            if (r.load() != last && last >= 0) {
                System.out.println();
            }
            last = r.load();
            System.out.printf(Locale.ROOT, fmt, pct(r.load(), 0), r.policy(), pct(r.rejectionRate(), 2),
                    pct(r.fragShare(), 1), pct(r.fragRate(), 2), pct(r.accept8(), 1), pct(r.utilization(), 1),
                    r.microsPerDecide() == 0 ? "-" : String.format(Locale.ROOT, "%.1f", r.microsPerDecide()));
        }
    }

    private static String pct(double v, int digits) {
        return String.format(Locale.ROOT, "%." + digits + "f%%", 100 * v);
    }
}
