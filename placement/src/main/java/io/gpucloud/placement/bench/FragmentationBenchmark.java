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
 * <p>Each load point pools {@code --replicas} independent traces (seeds {@code seed + 1000 * load
 * index + replica}) so that the 8-GPU acceptance, which hinges on a few thousand 8-GPU arrivals, is
 * stable to a few tenths of a point. 86 % is in the default sweep because at that load the
 * oracle and the baselines reproduce the independent replay's "90 %" reference figures
 * (Kaufman–Roberts puts the exact complete-sharing loss at 1.0 % there, 1.8 % at 90 %).
 *
 * <p>Options: {@code --arrivals N} (per trace, default 50000), {@code --warmup N} (default a tenth),
 * {@code --replicas N} (3), {@code --boards N} (50), {@code --seed N} (20240611),
 * {@code --loads 0.7,0.8,0.86,0.9,0.95},
 * {@code --sigmas 0.5,1.0} (log-normal errors of the noisy-hint runs), {@code --threads N}.
 */
public final class FragmentationBenchmark {

    public static void main(String[] args) throws Exception {
        int arrivals = 50_000;
        int replicas = 3;
        int warmup = -1;
        int boards = 50;
        long seed = 20240611L;
        double[] sigmas = {0.5, 1.0};
        double[] loads = {0.70, 0.80, 0.86, 0.90, 0.95};
        int threads = Runtime.getRuntime().availableProcessors();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--arrivals" -> arrivals = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--replicas" -> replicas = Integer.parseInt(args[++i]);
                case "--boards" -> boards = Integer.parseInt(args[++i]);
                case "--seed" -> seed = Long.parseLong(args[++i]);
                case "--sigmas" -> sigmas = parse(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--loads" -> loads = parse(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (warmup < 0) {
            warmup = arrivals / 10;
        }
        for (double load : loads) {
            if (!(load > 0 && load <= 1.5)) {
                throw new IllegalArgumentException("--loads takes offered loads as fractions of the fleet's GPUs, "
                        + "e.g. 0.9 for 90 %; got " + load);
            }
        }
        if (boards < 1 || arrivals <= warmup) {
            throw new IllegalArgumentException("need --boards >= 1 and more --arrivals than --warmup");
        }
        System.out.printf(Locale.ROOT, "Fragmentation benchmark: %d HGX H100 boards (%d GPUs); per load %d traces of %d "
                        + "arrivals (first %d of each not counted), base seed %d%n", boards, boards * 8, replicas, arrivals,
                warmup, seed);
        System.out.printf(Locale.ROOT, "GPU counts 1/2/4/8 at 40/30/20/10 %%, Poisson arrivals, exponential lifetimes "
                + "(mean 1 h), no queue. Our policy gets each VM's lifetime as expectedDuration: exact, times "
                + "exp(sigma*N(0,1)) (LN(sigma)), or none.%n%n");

        long t0 = System.nanoTime();
        List<List<Future<Replay.Result>>> futures = new ArrayList<>(); // per (load, job): its replicas
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads));
        try {
            for (int li = 0; li < loads.length; li++) {
                List<Trace> traces = new ArrayList<>();
                for (int r = 0; r < replicas; r++) {
                    traces.add(new Trace(seed + 1000L * li + r, arrivals, loads[li], boards * 8));
                }
                for (Job job : jobs(seed + li, sigmas)) {
                    List<Future<Replay.Result>> reps = new ArrayList<>();
                    for (Trace trace : traces) {
                        final int b = boards;
                        final int w = warmup;
                        reps.add(pool.submit(() -> job.oracle
                                ? Replay.oracle(trace, b, w)
                                : Replay.run(job.name, trace, b, w, job.factory, job.hint)));
                    }
                    futures.add(reps);
                }
            }
            List<Replay.Result> results = new ArrayList<>();
            for (List<Future<Replay.Result>> reps : futures) {
                Replay.Result pooled = null;
                for (Future<Replay.Result> f : reps) {
                    pooled = pooled == null ? f.get() : pooled.plus(f.get());
                }
                results.add(pooled);
            }
            print(results);
            legend(boards);
        } finally {
            pool.shutdown();
        }
        System.out.printf(Locale.ROOT, "%n(%.1f s)%n", (System.nanoTime() - t0) / 1e9);
    }

    record Job(String name, Function<SimClock, PlacementPolicy> factory, Replay.Hint hint, boolean oracle) {
    }

    private static double[] parse(String csv) {
        String[] p = csv.split(",");
        double[] out = new double[p.length];
        for (int k = 0; k < p.length; k++) {
            out[k] = Double.parseDouble(p[k]);
        }
        return out;
    }

    static List<Job> jobs(long seed, double[] sigmas) {
        List<Job> jobs = new ArrayList<>();
        jobs.add(new Job("k8s spread + lowest id", c -> Baselines.spread(c, seed), Replay.Hint.NONE, false));
        jobs.add(new Job("ubicloud-like", c -> Baselines.ubicloud(c, seed), Replay.Hint.NONE, false));
        jobs.add(new Job("random", c -> Baselines.random(c, seed), Replay.Hint.NONE, false));
        jobs.add(new Job("global first-fit", Baselines::firstFit, Replay.Hint.NONE, false));
        jobs.add(new Job("ours, no hint (LD+BF)", FragmentationBenchmark::ours, Replay.Hint.NONE, false));
        for (double s : sigmas) {
            Replay.Hint h = Replay.Hint.noisy(s);
            jobs.add(new Job("ours, " + h.label(), FragmentationBenchmark::ours, h, false));
        }
        jobs.add(new Job("ours, exact hint", FragmentationBenchmark::ours, Replay.Hint.EXACT, false));
        jobs.add(new Job("oracle (re-packs)", null, null, true));
        return jobs;
    }

    static PlacementPolicy ours(SimClock clock) {
        return new PlacementPolicy(PolicyWeights.DEFAULTS, clock);
    }

    static void print(List<Replay.Result> results) {
        String fmt = "%-6s %-26s %9s %12s %12s %10s %9s %10s%n";
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

    static void legend(int boards) {
        System.out.println();
        System.out.println("rejected     arrivals refused (no queue) / arrivals");
        System.out.println("frag-caused  share of the rejections that happened although enough GPUs were free fleet-wide");
        System.out.println("frag/arriv.  fragmentation-caused rejections / arrivals");
        System.out.println("8-GPU acc    accepted 8-GPU requests / 8-GPU arrivals");
        System.out.println("GPU util     time-averaged share of GPUs held by VMs");
        System.out.println("us/decide    mean decide() time over " + boards + " hosts while the replays share the cores"
                + " (indicative; see DecideBenchmark)");
        System.out.println("oracle       accepts whenever live VMs + the new one re-pack onto the boards (migration allowed)");
    }

    private static String pct(double v, int digits) {
        return String.format(Locale.ROOT, "%." + digits + "f%%", 100 * v);
    }
}
