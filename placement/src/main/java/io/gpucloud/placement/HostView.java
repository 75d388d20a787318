package io.gpucloud.placement;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A {@link HostSnapshot} digested for one request: GPU counts, the free allocation units of exactly
 * the requested size (with their anti-fragmentation damage), per-NUMA-node free capacity and the
 * host's expected drain time. Everything is computed lazily and at most once, so hosts rejected by
 * a cheap filter cost almost nothing. Not thread-safe; one per host per {@code decide()} call.
 */
public final class HostView {

    private static final int MAX_MODULE = 63;
    private static final int MAX_IOMMU_UNITS_PER_NODE = 4;
    private static final int MAX_IOMMU_UNITS = 12;

    private final HostSnapshot host;
    private final int index;
    private final PlacementRequest request;
    private final FabricMode fabricMode;

    // GPU stats
    private boolean gpuDone;
    private int usableGpus;
    private int heldGpus;
    private int freeGpus;
    private long blockedModules;
    private long presentModules;
    private int[] moduleToGpu;
    private long[] partitionMasks;
    private java.util.BitSet freeCpuSet;

    // units
    private ArrayList<AllocationUnit> units;
    private int maxFreeUnitSize;

    // NUMA
    private int[] nodeIds;
    private boolean numaDone;
    private int[] freeCpus;
    private int[] wholeCoreThreads;
    private int[] hugepages;

    // lifetime
    private boolean lifeDone;
    private long maxEndMillis;

    public HostView(HostSnapshot host, int index, PlacementRequest request) {
        this.host = host;
        this.index = index;
        this.request = request;
        this.fabricMode = FabricMode.of(host.fabricMode());
    }

    /**
     * A view for the questions that do not depend on a request (free GPUs, free partitions by size):
     * what the capacity gauges count, so that they count exactly what placement could hand out.
     */
    public static HostView withoutRequest(HostSnapshot host) {
        return new HostView(host, 0, null);
    }

    public HostSnapshot snapshot() {
        return host;
    }

    /** Position in the candidate list handed to decide(). */
    public int index() {
        return index;
    }

    public FabricMode fabricMode() {
        return fabricMode;
    }

    public boolean hasGpus() {
        return !host.gpus().isEmpty();
    }

    public int totalGpus() {
        return host.gpus().size();
    }

    /** Healthy GPUs, held or not. */
    public int usableGpus() {
        gpuStats();
        return usableGpus;
    }

    /** GPUs held by VMs (flagged held, or members of an allocated partition). */
    public int heldGpus() {
        gpuStats();
        return heldGpus;
    }

    /** Healthy GPUs nobody holds. */
    public int freeGpus() {
        gpuStats();
        return freeGpus;
    }

    // ------------------------------------------------------------------ GPUs

    private void gpuStats() {
        if (gpuDone) {
            return;
        }
        gpuDone = true;
        List<GpuSnapshot> gpus = host.gpus();
        int n = gpus.size();
        long allocatedModules = 0;
        if (fabricMode == FabricMode.SHARED_NVSWITCH) {
            moduleToGpu = new int[MAX_MODULE + 1];
            Arrays.fill(moduleToGpu, -1);
            List<PartitionSnapshot> parts = host.partitions();
            partitionMasks = new long[parts.size()];
            for (int i = 0; i < partitionMasks.length; i++) {
                PartitionSnapshot p = parts.get(i);
                long m = mask(p);
                partitionMasks[i] = m;
                if (p.allocated()) {
                    allocatedModules |= m == -1L ? 0 : m;
                }
            }
        }
        for (int i = 0; i < n; i++) {
            GpuSnapshot g = gpus.get(i);
            Integer m = g.moduleId();
            long bit = 0;
            if (moduleToGpu != null && m != null && m >= 0 && m <= MAX_MODULE) {
                bit = 1L << m;
                moduleToGpu[m] = i;
                presentModules |= bit;
            }
            boolean held = g.held() || (bit & allocatedModules) != 0;
            if (held) {
                heldGpus++;
            }
            if (g.healthy()) {
                usableGpus++;
                if (!held) {
                    freeGpus++;
                }
            }
            if (held || !g.healthy()) {
                blockedModules |= bit;
            }
        }
        blockedModules |= allocatedModules;
    }

    /**
     * For each partition size the host has, how many of its partitions are free now (no member held,
     * unhealthy or missing, none allocated, available); all zero unless the host shares its
     * NVSwitches, since only then does placement hand out partitions.
     */
    public java.util.SortedMap<Integer, Integer> freePartitionsBySize() {
        gpuStats();
        java.util.SortedMap<Integer, Integer> out = new java.util.TreeMap<>();
        List<PartitionSnapshot> parts = host.partitions();
        for (int i = 0, n = parts.size(); i < n; i++) {
            PartitionSnapshot p = parts.get(i);
            boolean free = partitionMasks != null && partitionFree(p, partitionMasks[i]);
            out.merge(p.gpuCount(), free ? 1 : 0, Integer::sum);
        }
        return out;
    }

    private static long mask(PartitionSnapshot p) {
        long m = 0;
        for (Integer id : p.moduleIds()) {
            if (id == null || id < 0 || id > MAX_MODULE) {
                return -1L; // cannot be represented: treat as touching everything, never free
            }
            m |= 1L << id;
        }
        return m;
    }

    // ------------------------------------------------------------------ units

    /**
     * The free allocation units of exactly the requested size (mutable: NUMA filters drop units
     * that cannot get their CPUs/hugepages), in tie-break order.
     */
    public List<AllocationUnit> units() {
        if (units == null) {
            buildUnits();
        }
        return units;
    }

    /** Size of the largest free allocation unit on the host, whatever was requested (0 if none). */
    public int maxFreeUnitSize() {
        units();
        return maxFreeUnitSize;
    }

    private void buildUnits() {
        gpuStats();
        units = new ArrayList<>(4);
        int size = request.gpuCount();
        if (size <= 0) {
            units.add(new AllocationUnit(AllocationUnit.Kind.CPU_ONLY, null, new int[0], 0L, 0, false, 0, 0));
            maxFreeUnitSize = fabricMode == FabricMode.SHARED_NVSWITCH ? largestFreePartition() : freeGpus;
            return;
        }
        switch (fabricMode) {
            case SHARED_NVSWITCH:
                buildPartitionUnits(size);
                break;
            case NONE:
                buildIommuUnits(size);
                break;
            case FULL_PASSTHROUGH:
                buildWholeBoard(size);
                break;
            default:
                break;
        }
    }

    private boolean partitionFree(PartitionSnapshot p, long m) {
        return p.available() && !p.allocated() && m != -1L && m != 0
                && (m & ~presentModules) == 0 && (m & blockedModules) == 0;
    }

    private int largestFreePartition() {
        int best = 0;
        List<PartitionSnapshot> parts = host.partitions();
        for (int i = 0, n = parts.size(); i < n; i++) {
            PartitionSnapshot p = parts.get(i);
            if (p.gpuCount() > best && partitionFree(p, partitionMasks[i])) {
                best = p.gpuCount();
            }
        }
        return best;
    }

    private void buildPartitionUnits(int size) {
        List<PartitionSnapshot> parts = host.partitions();
        int n = parts.size();
        long[] masks = partitionMasks;
        boolean[] free = new boolean[n];
        int max = 0;
        for (int i = 0; i < n; i++) {
            PartitionSnapshot p = parts.get(i);
            long m = masks[i];
            free[i] = partitionFree(p, m);
            if (free[i] && p.gpuCount() > max) {
                max = p.gpuCount();
            }
        }
        maxFreeUnitSize = max;
        for (int i = 0; i < n; i++) {
            PartitionSnapshot p = parts.get(i);
            if (!free[i] || p.gpuCount() != size) {
                continue;
            }
            long m = masks[i];
            int damage = 0;
            for (int j = 0; j < n; j++) {
                if (j != i && free[j] && (masks[j] & m) != 0) {
                    int qs = parts.get(j).gpuCount();
                    if (qs > size) {
                        damage += qs;
                    }
                }
            }
            int[] idx = new int[size];
            int k = 0;
            long bits = m;
            while (bits != 0) {
                int mod = Long.numberOfTrailingZeros(bits);
                bits &= bits - 1;
                idx[k++] = moduleToGpu[mod];
            }
            units.add(numaUnit(AllocationUnit.Kind.PARTITION, p, idx, damage, p.partitionId()));
        }
        if (units.size() > 1) {
            units.sort((a, b) -> Integer.compare(a.order(), b.order()));
        }
    }

    private void buildWholeBoard(int size) {
        int n = host.gpus().size();
        maxFreeUnitSize = (freeGpus == n && n > 0) ? n : 0;
        if (size == n && freeGpus == n) {
            int[] idx = new int[n];
            for (int i = 0; i < n; i++) {
                idx[i] = i;
            }
            units.add(numaUnit(AllocationUnit.Kind.WHOLE_BOARD, null, idx, 0, 0));
        }
    }

    /** PCIe host: whole IOMMU groups whose GPU counts add up to exactly the request. */
    private void buildIommuUnits(int size) {
        List<GpuSnapshot> gpus = host.gpus();
        int n = gpus.size();
        maxFreeUnitSize = freeGpus;
        if (freeGpus < size) {
            return;
        }
        // group GPUs; a GPU without a group is its own group
        int[] groupKey = new int[n];
        for (int i = 0; i < n; i++) {
            Integer g = gpus.get(i).iommuGroup();
            groupKey[i] = g != null ? g : Integer.MIN_VALUE + i;
        }
        List<int[]> groups = new ArrayList<>(); // members
        List<Integer> keys = new ArrayList<>();
        boolean[] seen = new boolean[n];
        for (int i = 0; i < n; i++) {
            if (seen[i]) {
                continue;
            }
            int cnt = 0;
            for (int j = i; j < n; j++) {
                if (groupKey[j] == groupKey[i]) {
                    cnt++;
                }
            }
            int[] mem = new int[cnt];
            int k = 0;
            boolean ok = true;
            for (int j = i; j < n; j++) {
                if (groupKey[j] == groupKey[i]) {
                    seen[j] = true;
                    mem[k++] = j;
                    GpuSnapshot g = gpus.get(j);
                    if (!g.healthy() || g.held()) {
                        ok = false;
                    }
                }
            }
            if (ok && cnt <= size) {
                groups.add(mem);
                keys.add(groupKey[i]);
            }
        }
        int gn = groups.size();
        int[] gNode = new int[gn]; // node index, or -1 mixed/unknown
        for (int i = 0; i < gn; i++) {
            int node = -2;
            for (int m : groups.get(i)) {
                int ni = nodeIndexOfGpu(m);
                node = node == -2 ? ni : (node == ni ? node : -1);
            }
            gNode[i] = node < 0 ? -1 : node;
        }
        Integer[] order = new Integer[gn];
        for (int i = 0; i < gn; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> gNode[a] != gNode[b] ? Integer.compare(gNode[a], gNode[b])
                : Integer.compare(keys.get(a), keys.get(b)));
        int nodes = nodeIds().length;
        int[] freePerNode = new int[nodes + 1]; // last slot: mixed/unknown
        for (int i = 0; i < gn; i++) {
            freePerNode[gNode[i] < 0 ? nodes : gNode[i]] += groups.get(i).length;
        }
        List<int[]> found = new ArrayList<>();
        // sets from one NUMA node first; only if none exists, sets across nodes
        for (int node = 0; node < nodes; node++) {
            List<Integer> bucket = new ArrayList<>();
            for (Integer g : order) {
                if (gNode[g] == node) {
                    bucket.add(g);
                }
            }
            subsets(bucket, groups, size, MAX_IOMMU_UNITS_PER_NODE, found);
        }
        if (found.isEmpty()) {
            subsets(Arrays.asList(order), groups, size, MAX_IOMMU_UNITS, found);
        }
        for (int[] chosen : found) {
            int total = 0;
            for (int g : chosen) {
                total += groups.get(g).length;
            }
            int[] idx = new int[total];
            int k = 0;
            int[] takenPerNode = new int[nodes + 1];
            int minKey = Integer.MAX_VALUE;
            for (int g : chosen) {
                for (int m : groups.get(g)) {
                    idx[k++] = m;
                }
                takenPerNode[gNode[g] < 0 ? nodes : gNode[g]] += groups.get(g).length;
                minKey = Math.min(minKey, keys.get(g));
            }
            Arrays.sort(idx);
            int damage = 0;
            for (int i = 0; i <= nodes; i++) {
                if (takenPerNode[i] > 0) {
                    damage += freePerNode[i] - takenPerNode[i];
                }
            }
            units.add(numaUnit(AllocationUnit.Kind.IOMMU_GROUPS, null, idx, damage, minKey));
        }
    }

    private static void subsets(List<Integer> candidates, List<int[]> groups, int target, int limit, List<int[]> out) {
        int before = out.size();
        int[] stack = new int[candidates.size()];
        int[] budget = {20_000};
        dfs(candidates, groups, 0, target, stack, 0, before + limit, out, budget);
    }

    private static void dfs(List<Integer> c, List<int[]> groups, int from, int remaining, int[] stack, int depth,
                            int cap, List<int[]> out, int[] budget) {
        if (remaining == 0) {
            out.add(Arrays.copyOf(stack, depth));
            return;
        }
        for (int i = from; i < c.size() && out.size() < cap && budget[0]-- > 0; i++) {
            int g = c.get(i);
            int sz = groups.get(g).length;
            if (sz <= remaining) {
                stack[depth] = g;
                dfs(c, groups, i + 1, remaining - sz, stack, depth + 1, cap, out, budget);
            }
        }
    }

    private AllocationUnit numaUnit(AllocationUnit.Kind kind, PartitionSnapshot p, int[] idx, int damage, int order) {
        long nodeMask = 0;
        boolean unknown = false;
        boolean missing = false;
        for (int gi : idx) {
            int ni = nodeIndexOfGpu(gi);
            if (ni >= 0) {
                nodeMask |= 1L << ni;
            } else if (ni == -1) {
                unknown = true;
            } else {
                missing = true;
            }
        }
        int span = Long.bitCount(nodeMask) + (unknown ? 1 : 0) + (missing ? 1 : 0);
        return new AllocationUnit(kind, p, idx, nodeMask, span, unknown, damage, order);
    }

    // ------------------------------------------------------------------ NUMA

    /** NUMA node ids in {@link HostSnapshot#numaNodes()} order. */
    public int[] nodeIds() {
        if (nodeIds == null) {
            List<NumaSnapshot> ns = host.numaNodes();
            nodeIds = new int[ns.size()];
            for (int i = 0; i < nodeIds.length; i++) {
                nodeIds[i] = ns.get(i).nodeId();
            }
        }
        return nodeIds;
    }

    public int numaNodeCount() {
        return nodeIds().length;
    }

    /**
     * NUMA node index (into numaNodes()) of GPU {@code gpuIndex}: -1 if the kernel did not say on
     * a multi-node host, -2 if it names a node the snapshot does not list.
     */
    public int nodeIndexOfGpu(int gpuIndex) {
        Integer node = host.gpus().get(gpuIndex).numaNode();
        int[] ids = nodeIds();
        if (node == null || node < 0) {
            return ids.length == 1 ? 0 : -1;
        }
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == node) {
                return i;
            }
        }
        return -2;
    }

    private void numaStats() {
        if (numaDone) {
            return;
        }
        numaDone = true;
        List<NumaSnapshot> ns = host.numaNodes();
        int n = ns.size();
        freeCpus = new int[n];
        hugepages = new int[n];
        for (int i = 0; i < n; i++) {
            NumaSnapshot s = ns.get(i);
            freeCpus[i] = s.freeCpus().size();
            hugepages[i] = s.freeHugepages1g();
        }
    }

    private void wholeCoreStats() {
        numaStats();
        if (wholeCoreThreads != null) {
            return;
        }
        List<NumaSnapshot> ns = host.numaNodes();
        int n = ns.size();
        wholeCoreThreads = new int[n];
        java.util.BitSet free = freeCpuSet();
        for (int i = 0; i < n; i++) {
            int sum = 0;
            for (NumaSnapshot.FreeCpu c : ns.get(i).freeCpus()) {
                if (isCoreRepresentative(c, free)) {
                    sum += c.siblings().size();
                }
            }
            wholeCoreThreads[i] = sum;
        }
    }

    /** Free logical CPUs of every node, as a bit set. */
    java.util.BitSet freeCpuSet() {
        if (freeCpuSet != null) {
            return freeCpuSet;
        }
        java.util.BitSet free = new java.util.BitSet(256);
        freeCpuSet = free;
        for (NumaSnapshot s : host.numaNodes()) {
            for (NumaSnapshot.FreeCpu c : s.freeCpus()) {
                free.set(c.cpuId());
            }
        }
        return free;
    }

    /** True for the lowest-numbered CPU of a core all of whose siblings are free. */
    static boolean isCoreRepresentative(NumaSnapshot.FreeCpu c, java.util.BitSet free) {
        List<Integer> sib = c.siblings();
        if (sib.isEmpty()) {
            return true;
        }
        int self = c.cpuId();
        for (int k = 0, m = sib.size(); k < m; k++) {
            int s = sib.get(k);
            if (s < self || !free.get(s)) {
                return false;
            }
        }
        return true;
    }

    /** Free logical CPUs on node index i. */
    public int freeCpus(int i) {
        numaStats();
        return freeCpus[i];
    }

    /** Logical CPUs in wholly free cores (all siblings free) on node index i. */
    public int wholeCoreThreads(int i) {
        wholeCoreStats();
        return wholeCoreThreads[i];
    }

    /** What the request can use on node index i: whole-core threads when dedicatedCores, else free CPUs. */
    public int cpuCapacity(int i) {
        return request.dedicatedCores() ? wholeCoreThreads(i) : freeCpus(i);
    }

    public int hugepages(int i) {
        numaStats();
        return hugepages[i];
    }

    public int totalCpuCapacity() {
        int s = 0;
        for (int i = 0, n = numaNodeCount(); i < n; i++) {
            s += cpuCapacity(i);
        }
        return s;
    }

    public int totalHugepages() {
        int s = 0;
        for (int i = 0, n = numaNodeCount(); i < n; i++) {
            s += hugepages(i);
        }
        return s;
    }

    public int cpuCapacity(long nodeMask) {
        int s = 0;
        while (nodeMask != 0) {
            int i = Long.numberOfTrailingZeros(nodeMask);
            nodeMask &= nodeMask - 1;
            s += cpuCapacity(i);
        }
        return s;
    }

    public int hugepages(long nodeMask) {
        int s = 0;
        while (nodeMask != 0) {
            int i = Long.numberOfTrailingZeros(nodeMask);
            nodeMask &= nodeMask - 1;
            s += hugepages(i);
        }
        return s;
    }

    // ------------------------------------------------------------------ lifetime

    /**
     * Latest expected end among the host's VMs in epoch millis (clamped to now by the caller), or
     * {@link Long#MIN_VALUE} when the host reports none.
     */
    public long maxEndMillis() {
        if (!lifeDone) {
            lifeDone = true;
            long max = Long.MIN_VALUE;
            List<Instant> ends = host.vmEndTimes();
            for (int i = 0, n = ends.size(); i < n; i++) {
                long t = epochMillisSaturated(ends.get(i));
                if (t > max) {
                    max = t;
                }
            }
            maxEndMillis = max;
        }
        return maxEndMillis;
    }

    /** Epoch millis, clamped instead of overflowing (Instant.MAX means "no known end"). */
    static long epochMillisSaturated(Instant t) {
        if (t.getEpochSecond() >= Long.MAX_VALUE / 1000 - 1) {
            return Long.MAX_VALUE;
        }
        if (t.getEpochSecond() <= Long.MIN_VALUE / 1000 + 1) {
            return Long.MIN_VALUE + 1;
        }
        return t.toEpochMilli();
    }

    @Override
    public String toString() {
        return host.name() + "#" + index;
    }
}
