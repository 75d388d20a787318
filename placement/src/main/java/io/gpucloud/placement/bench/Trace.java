package io.gpucloud.placement.bench;

import java.util.SplittableRandom;

/**
 * A deterministic arrival trace: Poisson arrivals, GPU counts 1/2/4/8 at 40/30/20/10 %,
 * exponential lifetimes with mean 1 time unit (read as one hour), arrival rate set so that the
 * offered load (rate × mean GPUs × mean lifetime) is the given share of the fleet's GPUs. Each
 * arrival also carries a standard normal draw {@code noise} from its own stream, so a lifetime
 * hint with multiplicative log-normal error is {@code lifetime × exp(σ × noise)} for any σ.
 */
public final class Trace {

    public static final int[] SIZES = {1, 2, 4, 8};
    public static final double[] SHARES = {0.4, 0.3, 0.2, 0.1};
    public static final double MEAN_GPUS = 0.4 * 1 + 0.3 * 2 + 0.2 * 4 + 0.1 * 8;

    public final double load;
    public final long seed;
    public final double[] time;
    public final int[] gpus;
    public final double[] lifetime;
    public final double[] noise;

    public Trace(long seed, int arrivals, double load, int fleetGpus) {
        this.load = load;
        this.seed = seed;
        SplittableRandom rnd = new SplittableRandom(seed);
        SplittableRandom noiseRnd = new SplittableRandom(seed ^ 0x9E3779B97F4A7C15L);
        double rate = load * fleetGpus / MEAN_GPUS; // per mean lifetime
        time = new double[arrivals];
        gpus = new int[arrivals];
        lifetime = new double[arrivals];
        noise = new double[arrivals];
        double t = 0;
        for (int i = 0; i < arrivals; i++) {
            t += -Math.log(1 - rnd.nextDouble()) / rate;
            time[i] = t;
            double u = rnd.nextDouble();
            int k = 0;
            double acc = SHARES[0];
            while (u >= acc && k < SIZES.length - 1) {
                acc += SHARES[++k];
            }
            gpus[i] = SIZES[k];
            lifetime[i] = -Math.log(1 - rnd.nextDouble());
            noise[i] = gaussian(noiseRnd);
        }
    }

    /** The lifetime hint of arrival i with log-normal error σ (0 = exact). */
    public double hint(int i, double sigma) {
        return sigma == 0 ? lifetime[i] : lifetime[i] * Math.exp(sigma * noise[i]);
    }

    public int size() {
        return time.length;
    }

    private static double gaussian(SplittableRandom r) {
        // Box-Muller, one value per call (deterministic, no hidden state)
        double u1 = 1 - r.nextDouble();
        double u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
