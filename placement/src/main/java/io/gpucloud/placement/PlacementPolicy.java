package io.gpucloud.placement;

import io.gpucloud.placement.filter.BootImageFilter;
import io.gpucloud.placement.filter.FabricModeFilter;
import io.gpucloud.placement.filter.FabricPartitionFilter;
import io.gpucloud.placement.filter.GpuModelFilter;
import io.gpucloud.placement.filter.HostIdFilter;
import io.gpucloud.placement.filter.HostStateFilter;
import io.gpucloud.placement.filter.IommuGroupFilter;
import io.gpucloud.placement.filter.LocationFilter;
import io.gpucloud.placement.filter.NumaCpuFilter;
import io.gpucloud.placement.filter.NumaHugepageFilter;
import io.gpucloud.placement.filter.PassthroughCapableFilter;
import io.gpucloud.placement.filter.ReservedBoardFilter;
import io.gpucloud.placement.filter.VirtualizationModeFilter;
import io.gpucloud.placement.filter.WholeBoardFilter;
import io.gpucloud.placement.score.BestFitScorer;
import io.gpucloud.placement.score.CpuOnlyOnGpuHostScorer;
import io.gpucloud.placement.score.EmptyHostScorer;
import io.gpucloud.placement.score.FragmentationScorer;
import io.gpucloud.placement.score.LifetimeScorer;
import io.gpucloud.placement.score.NumaLocalityScorer;

import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The placement policy, shaped like the Kubernetes scheduler framework: every candidate host goes
 * through the {@link HostFilter}s in order (the first that rejects it is charged), the survivors'
 * free allocation units (fabric partition / IOMMU groups / whole board) are scored by the weighted
 * {@link Scorer}s, the best unit per host is kept and the hosts are ranked, lowest total first.
 * Only the top {@code maxCandidates} are turned into full {@link Placement}s (concrete CPUs and
 * hugepages). Pure and thread-safe: it reads only its arguments and the clock.
 */
public final class PlacementPolicy {

    public static final int DEFAULT_MAX_CANDIDATES = 8;

    private final List<HostFilter> filters;
    private final Scorer[] scorers;
    private final double[] weights;
    private final Clock clock;
    private final int maxCandidates;

    /** Default filters and scorers, {@link PolicyWeights#DEFAULTS}, the UTC system clock. */
    public PlacementPolicy() {
        this(PolicyWeights.DEFAULTS, Clock.systemUTC());
    }

    /** Default filters and scorers with these weights; {@code clock} dates lifetime hints. */
    public PlacementPolicy(PolicyWeights weights, Clock clock) {
        this(weights, clock, DEFAULT_MAX_CANDIDATES);
    }

    /** As above, returning at most {@code maxCandidates} ranked placements (match the claim's attempts). */
    public PlacementPolicy(PolicyWeights weights, Clock clock, int maxCandidates) {
        this(defaultFilters(weights), defaultScorers(weights), clock, maxCandidates);
    }

    /**
     * Full control: any filter chain and weighted scorers (the fragmentation benchmark builds its
     * baselines this way).
     *
     * @param maxCandidates how many ranked placements to return at most (the claim walks them)
     */
    public PlacementPolicy(List<HostFilter> filters, List<WeightedScorer> scorers, Clock clock, int maxCandidates) {
        this.filters = List.copyOf(filters);
        List<WeightedScorer> active = new ArrayList<>();
        for (WeightedScorer s : scorers) {
            if (s.weight() > 0) {
                active.add(s);
            }
        }
        this.scorers = new Scorer[active.size()];
        this.weights = new double[active.size()];
        for (int i = 0; i < active.size(); i++) {
            this.scorers[i] = active.get(i).scorer();
            this.weights[i] = active.get(i).weight();
        }
        this.clock = Objects.requireNonNull(clock, "clock");
        if (maxCandidates < 1) {
            throw new IllegalArgumentException("maxCandidates must be >= 1");
        }
        this.maxCandidates = maxCandidates;
    }

    /** Static filters first (cheap), then GPU capacity, then NUMA CPUs and hugepages. */
    public static List<HostFilter> defaultFilters() {
        return List.of(new HostStateFilter(), new GpuModelFilter(), new LocationFilter(), new HostIdFilter(),
                new BootImageFilter(), new FabricModeFilter(), new VirtualizationModeFilter(), new PassthroughCapableFilter(),
                new FabricPartitionFilter(), new IommuGroupFilter(), new WholeBoardFilter(),
                new NumaCpuFilter(), new NumaHugepageFilter());
    }

    /**
     * The default filters, then (when {@link PolicyWeights#reservedEmptyHosts()} is above 0) the
     * {@link ReservedBoardFilter}, which acts only when decide() is told the fleet's count of empty hosts.
     */
    public static List<HostFilter> defaultFilters(PolicyWeights w) {
        if (w.reservedEmptyHosts() <= 0) {
            return defaultFilters();
        }
        List<HostFilter> out = new ArrayList<>(defaultFilters());
        out.add(new ReservedBoardFilter((int) w.reservedEmptyHosts(), Math.round(w.reserveExemptMinutes() * 60_000)));
        return out;
    }

    public static List<WeightedScorer> defaultScorers(PolicyWeights w) {
        return List.of(
                new WeightedScorer(new BestFitScorer(), w.bestFit()),
                new WeightedScorer(new FragmentationScorer(), w.leastDamage()),
                new WeightedScorer(new EmptyHostScorer(), w.keepEmptyHosts()),
                new WeightedScorer(new LifetimeScorer(w.lifetimeTightness(), 0.5), w.lifetime()),
                new WeightedScorer(new NumaLocalityScorer(), w.numaLocality()),
                new WeightedScorer(new CpuOnlyOnGpuHostScorer(), w.cpuOnlyOnGpuHost()));
    }

    public List<HostFilter> filters() {
        return filters;
    }

    /**
     * Ranks the hosts that can take the request: at most one placement per host, best first, at
     * most {@code maxCandidates}; rejections per filter name (every filter, in filter order) and an
     * explanation in numbers.
     */
    public PlacementDecision decide(PlacementRequest request, List<HostSnapshot> hosts) {
        return decide(request, hosts, ScoringContext.UNKNOWN);
    }

    /**
     * As {@link #decide(PlacementRequest, List)}, told how many hosts of the request's GPU model (and
     * location) in the whole fleet take VMs and hold nothing ({@code hosts} may be a subset, such as
     * the control plane's best-fit candidates); {@link ScoringContext#UNKNOWN} when not counted. The
     * {@link ReservedBoardFilter} keeps the last of them for whole-host VMs.
     */
    public PlacementDecision decide(PlacementRequest request, List<HostSnapshot> hosts, int emptyHosts) {
        Objects.requireNonNull(request, "request");
        long now = clock.millis();
        long end = Long.MIN_VALUE;
        if (request.expectedDuration() != null) {
            java.time.Duration d = request.expectedDuration();
            long ms = d.isNegative() ? 0 : d.getSeconds() >= Long.MAX_VALUE / 1000 - 1 ? Long.MAX_VALUE : d.toMillis();
            end = now > Long.MAX_VALUE - ms ? Long.MAX_VALUE - 1 : now + ms;
        }
        int n = hosts.size();
        ScoringContext ctx = new ScoringContext(request, now, end, n, Math.max(ScoringContext.UNKNOWN, emptyHosts));
        int nf = filters.size();
        int[] rejected = new int[nf];
        int k = Math.min(maxCandidates, Math.max(1, n));
        HostView[] topHost = new HostView[k];
        AllocationUnit[] topUnit = new AllocationUnit[k];
        double[] topScore = new double[k];
        int top = 0;
        int feasible = 0;
        Scorer[] sc = scorers;
        double[] w = weights;
        for (int i = 0; i < n; i++) {
            HostView hv = new HostView(hosts.get(i), i, request);
            int f = 0;
            while (f < nf && filters.get(f).admit(ctx, hv)) {
                f++;
            }
            if (f < nf) {
                rejected[f]++;
                continue;
            }
            List<AllocationUnit> units = hv.units();
            if (units.isEmpty()) {
                continue; // a custom filter chain without capacity filters
            }
            feasible++;
            AllocationUnit best = null;
            double bestScore = Double.POSITIVE_INFINITY;
            for (int u = 0, nu = units.size(); u < nu; u++) {
                AllocationUnit unit = units.get(u);
                double s = 0;
                for (int j = 0; j < sc.length; j++) {
                    s += w[j] * sc[j].score(ctx, hv, unit);
                }
                if (s < bestScore) {
                    bestScore = s;
                    best = unit;
                }
            }
            if (best == null) { // a custom scorer returned NaN everywhere: rank the host last
                best = units.get(0);
                bestScore = Double.MAX_VALUE;
            }
            // bounded insertion: keep the k best (ties: earlier host wins, as it arrived first)
            if (top < k || bestScore < topScore[top - 1]) {
                int pos = top < k ? top++ : k - 1;
                while (pos > 0 && topScore[pos - 1] > bestScore) {
                    topScore[pos] = topScore[pos - 1];
                    topHost[pos] = topHost[pos - 1];
                    topUnit[pos] = topUnit[pos - 1];
                    pos--;
                }
                topScore[pos] = bestScore;
                topHost[pos] = hv;
                topUnit[pos] = best;
            }
        }
        List<Placement> out = new ArrayList<>(top);
        int first = -1;
        for (int i = 0; i < top; i++) {
            Placement p = toPlacement(request, topHost[i], topUnit[i], topScore[i]);
            if (p != null) {
                out.add(p);
                first = first < 0 ? i : first;
            }
        }
        Map<String, Integer> rejections = new LinkedHashMap<>();
        for (int f = 0; f < nf; f++) {
            rejections.merge(filters.get(f).name(), rejected[f], Integer::sum);
        }
        String explanation = explain(ctx, n, rejected, feasible, out, first >= 0 ? topHost[first] : null,
                first >= 0 ? topUnit[first] : null);
        return new PlacementDecision(out, rejections, explanation);
    }

    private static Placement toPlacement(PlacementRequest req, HostView host, AllocationUnit unit, double score) {
        CpuPicker.Result r = CpuPicker.pick(req, host, unit);
        if (r == null) {
            return null;
        }
        List<Long> gpuIds = new ArrayList<>(unit.gpuCount());
        List<GpuSnapshot> gpus = host.snapshot().gpus();
        for (int i = 0; i < unit.gpuCount(); i++) {
            gpuIds.add(gpus.get(unit.gpuIndex(i)).deviceId());
        }
        return new Placement(host.snapshot().hostId(), unit.partitionRowId(), gpuIds, r.cpuIds(), r.hugepagesByNode(),
                score);
    }

    private String explain(ScoringContext ctx, int n, int[] rejected, int feasible, List<Placement> out,
                           HostView bestHost, AllocationUnit bestUnit) {
        PlacementRequest req = ctx.request();
        StringBuilder sb = new StringBuilder();
        int staticRejected = 0;
        for (int f = 0; f < rejected.length; f++) {
            if (!filters.get(f).capacity()) {
                staticRejected += rejected[f];
            }
        }
        if (staticRejected > 0) {
            sb.append(n).append(n == 1 ? " host" : " hosts").append(" considered: ");
            boolean first = true;
            for (int f = 0; f < rejected.length; f++) {
                if (!filters.get(f).capacity() && rejected[f] > 0) {
                    sb.append(first ? "" : ", ").append(filters.get(f).explain(ctx, rejected[f]));
                    first = false;
                }
            }
            sb.append("; ");
        }
        int ready = n - staticRejected;
        sb.append(ready).append(ready == 1 ? " host " : " hosts ");
        if (req.gpuCount() > 0 && req.gpuModel() != null) {
            sb.append(req.gpuModel()).append(' ');
        }
        sb.append("ready");
        for (int f = 0; f < rejected.length; f++) {
            if (filters.get(f).capacity() && rejected[f] > 0) {
                sb.append("; ").append(filters.get(f).explain(ctx, rejected[f]));
            }
        }
        if (out.isEmpty()) {
            sb.append("; none fits a ").append(describe(req));
        } else {
            sb.append("; ").append(feasible).append(feasible == 1 ? " fits" : " fit")
                    .append("; best ").append(bestHost.snapshot().name());
            if (bestUnit.partition() != null) {
                sb.append(" ").append(bestUnit);
            }
            sb.append(String.format(java.util.Locale.ROOT, " (score %.3f)", out.get(0).score()));
        }
        return sb.toString();
    }

    private static String describe(PlacementRequest req) {
        return (req.gpuCount() > 0 ? req.gpuCount() + "-GPU" : "CPU-only") + " VM with " + req.vcpus() + " vCPUs and "
                + req.hugepages1g() + " GiB";
    }
}
