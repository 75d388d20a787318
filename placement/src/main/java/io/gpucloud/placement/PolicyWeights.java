package io.gpucloud.placement;

/**
 * Weights of the default scorers (each scorer returns a penalty of roughly 0..1; the policy adds
 * the weighted penalties and the lowest total wins). 0 switches a scorer off.
 *
 * @param bestFit           {@link io.gpucloud.placement.score.BestFitScorer}: fill partly used hosts first
 * @param leastDamage       {@link io.gpucloud.placement.score.FragmentationScorer}: destroy the fewest larger free partitions
 * @param keepEmptyHosts    {@link io.gpucloud.placement.score.EmptyHostScorer}: do not open an untouched board for a smaller VM
 * @param lifetime          {@link io.gpucloud.placement.score.LifetimeScorer}: co-locate VMs that end together
 * @param lifetimeTightness the lifetime scorer's pull towards hosts whose VMs end near this one's (0..1)
 * @param numaLocality      {@link io.gpucloud.placement.score.NumaLocalityScorer}: few NUMA nodes, no spill
 * @param cpuOnlyOnGpuHost  {@link io.gpucloud.placement.score.CpuOnlyOnGpuHostScorer}: keep CPU-only VMs off GPU hosts
 * @param reservedEmptyHosts {@link io.gpucloud.placement.filter.ReservedBoardFilter}: how many of the fleet's last
 *                           empty hosts (per model) smaller GPU VMs with a long expectedDuration may not
 *                           open (a whole count, 0 = off)
 * @param reserveExemptMinutes VMs expected to end within this many minutes may open a reserved empty host
 */
public record PolicyWeights(double bestFit, double leastDamage, double keepEmptyHosts, double lifetime,
                            double lifetimeTightness, double numaLocality, double cpuOnlyOnGpuHost,
                            double reservedEmptyHosts, double reserveExemptMinutes) {

    public static final PolicyWeights DEFAULTS = new PolicyWeights(1.0, 1.0, 1.0, 1.0, 0.5, 2.0, 100.0, 2, 90);

    public PolicyWeights {
        check("bestFit", bestFit);
        check("leastDamage", leastDamage);
        check("keepEmptyHosts", keepEmptyHosts);
        check("lifetime", lifetime);
        check("lifetimeTightness", lifetimeTightness);
        check("numaLocality", numaLocality);
        check("cpuOnlyOnGpuHost", cpuOnlyOnGpuHost);
        check("reservedEmptyHosts", reservedEmptyHosts);
        check("reserveExemptMinutes", reserveExemptMinutes);
        if (reservedEmptyHosts != Math.rint(reservedEmptyHosts)) {
            throw new IllegalArgumentException("reservedEmptyHosts must be a whole number: " + reservedEmptyHosts);
        }
    }

    private static void check(String name, double v) {
        if (!(v >= 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(name + " must be finite and >= 0: " + v);
        }
    }

    public PolicyWeights withReservedEmptyHosts(double v) {
        return new PolicyWeights(bestFit, leastDamage, keepEmptyHosts, lifetime, lifetimeTightness,
                numaLocality, cpuOnlyOnGpuHost, v, reserveExemptMinutes);
    }
}
