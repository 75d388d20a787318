package io.gpucloud.placement;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Picks the concrete CPUs and hugepages for a chosen unit. CPUs and hugepages are split over the
 * GPUs' NUMA nodes in proportion to the GPUs on each (an 8-GPU VM on a two-node H100 gets half
 * from each, mirroring the host in the guest's NUMA cells); under PREFERRED whatever the local
 * nodes lack spills to the other nodes, largest first. Shared vCPUs come from already broken
 * cores first so whole cores stay free for dedicated-core VMs; dedicated cores take every
 * hyperthread sibling (so cpuIds may exceed vcpus when vcpus is not a multiple of the threads per
 * core). Returns null if the host cannot serve it after all (the filters should prevent that).
 */
final class CpuPicker {

    record Result(List<Integer> cpuIds, Map<Integer, Integer> hugepagesByNode) {
    }

    private CpuPicker() {
    }

    static Result pick(PlacementRequest req, HostView host, AllocationUnit unit) {
        List<NumaSnapshot> nodes = host.snapshot().numaNodes();
        int n = nodes.size();
        int[] weight = new int[n];
        List<Integer> local = new ArrayList<>();
        List<Integer> others = new ArrayList<>();
        boolean required = req.numaPolicy() == NumaPolicy.REQUIRED;
        if (req.gpuCount() > 0) {
            for (int i = 0; i < unit.gpuCount(); i++) {
                int ni = host.nodeIndexOfGpu(unit.gpuIndex(i));
                if (ni >= 0) {
                    weight[ni]++;
                }
            }
            for (int i = 0; i < n; i++) {
                (weight[i] > 0 ? local : others).add(i);
            }
            local.sort((a, b) -> weight[a] != weight[b] ? Integer.compare(weight[b], weight[a])
                    : Integer.compare(nodes.get(a).nodeId(), nodes.get(b).nodeId()));
            if (required) {
                others.clear();
            }
        } else {
            int best = -1;
            for (int i = 0; i < n; i++) {
                boolean fits = host.cpuCapacity(i) >= req.vcpus() && host.hugepages(i) >= req.hugepages1g();
                if (fits && (best < 0 || host.cpuCapacity(i) < host.cpuCapacity(best))) {
                    best = i; // best fit among nodes that take the whole VM
                }
            }
            if (best < 0 && !required) {
                for (int i = 0; i < n; i++) {
                    if (best < 0 || host.cpuCapacity(i) > host.cpuCapacity(best)) {
                        best = i;
                    }
                }
            }
            if (best < 0) {
                return req.vcpus() <= 0 && req.hugepages1g() <= 0 ? new Result(List.of(), Map.of()) : null;
            }
            local.add(best);
            weight[best] = 1;
            if (!required) {
                for (int i = 0; i < n; i++) {
                    if (i != best) {
                        others.add(i);
                    }
                }
            }
        }
        others.sort((a, b) -> Integer.compare(host.cpuCapacity(b), host.cpuCapacity(a)));

        // ---- CPUs
        List<Integer> cpus = new ArrayList<>(Math.max(0, req.vcpus()));
        if (req.vcpus() > 0) {
            BitSet free = host.freeCpuSet();
            Order[] orders = new Order[n];
            int[] target = targets(req.vcpus(), local, weight);
            int remaining = req.vcpus();
            for (int k = 0; k < local.size() && remaining > 0; k++) {
                int node = local.get(k);
                remaining -= take(req, nodes.get(node), free, orders, node, Math.min(target[k], remaining), cpus);
            }
            List<Integer> all = new ArrayList<>(local);
            all.addAll(others);
            for (int k = 0; k < all.size() && remaining > 0; k++) {
                int node = all.get(k);
                remaining -= take(req, nodes.get(node), free, orders, node, remaining, cpus);
            }
            if (remaining > 0) {
                return null;
            }
        }

        // ---- hugepages
        Map<Integer, Integer> pages = new LinkedHashMap<>();
        long needPages = req.hugepages1g();
        if (needPages > 0) {
            int[] left = new int[n];
            for (int i = 0; i < n; i++) {
                left[i] = host.hugepages(i);
            }
            int[] target = targets((int) Math.min(Integer.MAX_VALUE, needPages), local, weight);
            long remaining = needPages;
            for (int k = 0; k < local.size() && remaining > 0; k++) {
                int node = local.get(k);
                int t = (int) Math.min(Math.min(target[k], remaining), left[node]);
                if (t > 0) {
                    left[node] -= t;
                    remaining -= t;
                    pages.merge(nodes.get(node).nodeId(), t, Integer::sum);
                }
            }
            List<Integer> all = new ArrayList<>(local);
            all.addAll(others);
            for (int k = 0; k < all.size() && remaining > 0; k++) {
                int node = all.get(k);
                int t = (int) Math.min(remaining, left[node]);
                if (t > 0) {
                    left[node] -= t;
                    remaining -= t;
                    pages.merge(nodes.get(node).nodeId(), t, Integer::sum);
                }
            }
            if (remaining > 0) {
                return null;
            }
        }
        return new Result(cpus, pages);
    }

    /** Split {@code total} over the local nodes in proportion to their weights (largest remainders first). */
    private static int[] targets(int total, List<Integer> local, int[] weight) {
        int[] t = new int[local.size()];
        int sumW = 0;
        for (int node : local) {
            sumW += weight[node];
        }
        if (sumW == 0) {
            return t;
        }
        int given = 0;
        for (int k = 0; k < t.length; k++) {
            t[k] = (int) ((long) total * weight[local.get(k)] / sumW);
            given += t[k];
        }
        for (int k = 0; given < total; k = (k + 1) % t.length) {
            t[k]++;
            given++;
        }
        return t;
    }

    /** CPUs of one node in take order, cut into chunks (a chunk = one whole core when dedicated). */
    private static final class Order {
        int[] cpus;
        int[] chunkEnd;
        int chunks;
        int cursor;
    }

    /** Takes up to {@code want} CPUs (dedicated: whole cores, possibly a few more) from one node. */
    private static int take(PlacementRequest req, NumaSnapshot node, BitSet free, Order[] orders, int nodeIndex,
                            int want, List<Integer> out) {
        if (want <= 0) {
            return 0;
        }
        Order o = orders[nodeIndex];
        if (o == null) {
            o = order(req.dedicatedCores(), node, free);
            orders[nodeIndex] = o;
        }
        int taken = 0;
        while (taken < want && o.cursor < o.chunks) {
            int from = o.cursor == 0 ? 0 : o.chunkEnd[o.cursor - 1];
            int to = o.chunkEnd[o.cursor++];
            for (int i = from; i < to; i++) {
                out.add(o.cpus[i]);
            }
            taken += to - from;
        }
        return taken;
    }

    private static Order order(boolean dedicated, NumaSnapshot node, BitSet free) {
        List<NumaSnapshot.FreeCpu> cpus = node.freeCpus();
        int n = cpus.size();
        // sort keys: [whole-core flag (broken cores first) | coreKey | index into cpus]; a primitive sort
        long[] keys = new long[n];
        int k = 0;
        int sibTotal = 0;
        for (int i = 0; i < n; i++) {
            NumaSnapshot.FreeCpu c = cpus.get(i);
            boolean whole;
            if (dedicated) {
                if (!HostView.isCoreRepresentative(c, free)) {
                    continue;
                }
                whole = true;
                sibTotal += Math.max(1, c.siblings().size());
            } else {
                whole = true;
                List<Integer> sib = c.siblings();
                for (int j = 0, m = sib.size(); j < m; j++) {
                    if (!free.get(sib.get(j))) {
                        whole = false;
                        break;
                    }
                }
            }
            long core = (long) c.coreKey() - Integer.MIN_VALUE; // 0 .. 2^32-1, order preserved
            keys[k++] = ((whole ? 1L : 0L) << 62) | (core << 24) | i;
        }
        Arrays.sort(keys, 0, k);
        Order o = new Order();
        o.chunks = k;
        o.chunkEnd = new int[k];
        if (!dedicated) {
            o.cpus = new int[k];
            for (int i = 0; i < k; i++) {
                o.cpus[i] = cpus.get((int) (keys[i] & 0xFFFFFFL)).cpuId();
                o.chunkEnd[i] = i + 1;
            }
            return o;
        }
        o.cpus = new int[sibTotal];
        int pos = 0;
        for (int i = 0; i < k; i++) {
            NumaSnapshot.FreeCpu c = cpus.get((int) (keys[i] & 0xFFFFFFL));
            List<Integer> sib = c.siblings();
            if (sib.isEmpty()) {
                o.cpus[pos++] = c.cpuId();
            } else {
                int start = pos;
                for (int j = 0, m = sib.size(); j < m; j++) {
                    o.cpus[pos++] = sib.get(j);
                }
                Arrays.sort(o.cpus, start, pos);
            }
            o.chunkEnd[i] = pos;
        }
        return o;
    }
}
