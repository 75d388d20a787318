package io.gpucloud.placement.bench;

import io.gpucloud.placement.GpuSnapshot;
import io.gpucloud.placement.HostSnapshot;
import io.gpucloud.placement.NumaSnapshot;
import io.gpucloud.placement.PartitionSnapshot;
import io.gpucloud.placement.PartitionTables;
import io.gpucloud.placement.Placement;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * An in-memory fleet of identical HGX boards that produces {@link HostSnapshot}s the way the
 * control plane's SQL would, and applies/releases {@link Placement}s the way the claim and the
 * teardown would — checking Fabric Manager's rule (never activate a partition overlapping an active
 * one) and that every CPU/hugepage handed out was free, so a wrong placement fails loudly.
 *
 * <p>Board model (H100 by default): 8 GPUs, module ids in the vendor order seen on a real HGX
 * (bus 18,2a,3a,5d,9a,ab,ba,db = module 2,4,1,3,6,8,5,7), modules 1–4 on NUMA node 0 and 5–8 on
 * node 1; 2 × 52 cores × 2 threads with interleaved numbering (even CPUs node 0, odd node 1; CPU c
 * and c+104 are siblings); 1000 free 1 GiB hugepages per node.
 */
public final class SimFleet {

    public static final String MODEL = "H100-SXM5-80GB";
    static final int[] BUS_TO_MODULE = {2, 4, 1, 3, 6, 8, 5, 7};
    static final int CORES = 104;
    static final int CPUS = 2 * CORES;
    static final int HUGEPAGES_PER_NODE = 1000;

    private final PartitionTables.Table table;
    private final Host[] hosts;
    private final HostSnapshot[] snapshots;
    private final List<HostSnapshot> view;
    private final Map<UUID, Integer> hostIndexById = new HashMap<>();
    private final NumaSnapshot.FreeCpu[] cpuRecords = new NumaSnapshot.FreeCpu[CPUS];
    private int freeGpus;

    public SimFleet(int boards) {
        this(boards, PartitionTables.HGX_H100);
    }

    public SimFleet(int boards, PartitionTables.Table table) {
        this.table = table;
        this.hosts = new Host[boards];
        this.snapshots = new HostSnapshot[boards];
        for (int c = 0; c < CPUS; c++) {
            int core = c % CORES;
            cpuRecords[c] = new NumaSnapshot.FreeCpu(c, core, List.of(core, core + CORES));
        }
        for (int i = 0; i < boards; i++) {
            hosts[i] = new Host(i);
            hostIndexById.put(hosts[i].id, i);
            freeGpus += 8;
        }
        this.view = Arrays.asList(snapshots);
    }

    public int boards() {
        return hosts.length;
    }

    public int totalGpus() {
        return hosts.length * 8;
    }

    /** Healthy GPUs held by nobody, fleet-wide. */
    public int freeGpus() {
        return freeGpus;
    }

    /** Hosts no VM lives on (what the control plane's fleet cache counts as unused). */
    public int emptyBoards() {
        int n = 0;
        for (Host h : hosts) {
            if (h.vms.isEmpty()) {
                n++;
            }
        }
        return n;
    }

    /** Current snapshots of every host, in host-id order (rebuilt only where something changed). */
    public List<HostSnapshot> snapshots() {
        for (int i = 0; i < hosts.length; i++) {
            if (snapshots[i] == null) {
                snapshots[i] = hosts[i].snapshot();
            }
        }
        return view;
    }

    /** Claims what the placement says; returns the host index. */
    public int apply(UUID vmId, Placement p, Instant expectedEnd) {
        Integer hi = hostIndexById.get(p.hostId());
        if (hi == null) {
            throw new IllegalStateException("unknown host " + p.hostId());
        }
        hosts[hi].apply(vmId, p, expectedEnd);
        snapshots[hi] = null;
        return hi;
    }

    public void release(int hostIndex, UUID vmId) {
        hosts[hostIndex].release(vmId);
        snapshots[hostIndex] = null;
    }

    private record Vm(int partitionIndex, int[] gpus, int[] cpus, int[] pages, Instant end) {
    }

    private final class Host {
        final UUID id;
        final String name;
        final int index;
        final long[] deviceIds = new long[8];
        final int[] moduleOfGpu = new int[8];
        final List<PartitionTables.Entry> parts;
        final long[] partMasks;
        final boolean[] allocated;
        final boolean[] held = new boolean[8];
        final BitSet freeCpus = new BitSet(CPUS);
        final int[] pages = {HUGEPAGES_PER_NODE, HUGEPAGES_PER_NODE};
        final Map<UUID, Vm> vms = new HashMap<>();

        Host(int index) {
            this.index = index;
            this.id = new UUID(0x5EED_0000L, index);
            this.name = String.format("hgx-%03d", index);
            for (int g = 0; g < 8; g++) {
                deviceIds[g] = index * 100L + g;
                moduleOfGpu[g] = BUS_TO_MODULE[g];
            }
            parts = table.entries();
            partMasks = new long[parts.size()];
            for (int p = 0; p < parts.size(); p++) {
                for (int m : parts.get(p).moduleIds()) {
                    partMasks[p] |= 1L << m;
                }
            }
            allocated = new boolean[parts.size()];
            freeCpus.set(0, CPUS);
        }

        long rowBase() {
            return index * 1000L;
        }

        HostSnapshot snapshot() {
            List<GpuSnapshot> gpus = new ArrayList<>(8);
            String[] bus = {"18", "2a", "3a", "5d", "9a", "ab", "ba", "db"};
            for (int g = 0; g < 8; g++) {
                int module = moduleOfGpu[g];
                gpus.add(new GpuSnapshot(deviceIds[g], "0000:" + bus[g] + ":00.0", module, module <= 4 ? 0 : 1,
                        10 + g, true, held[g]));
            }
            List<PartitionSnapshot> ps = new ArrayList<>(parts.size());
            for (int p = 0; p < parts.size(); p++) {
                PartitionTables.Entry e = parts.get(p);
                ps.add(new PartitionSnapshot(rowBase() + e.partitionId(), e.partitionId(), e.moduleIds(), true,
                        allocated[p]));
            }
            List<NumaSnapshot> nodes = new ArrayList<>(2);
            for (int node = 0; node < 2; node++) {
                List<NumaSnapshot.FreeCpu> free = new ArrayList<>();
                for (int c = freeCpus.nextSetBit(0); c >= 0; c = freeCpus.nextSetBit(c + 1)) {
                    if (c % 2 == node) {
                        free.add(cpuRecords[c]);
                    }
                }
                nodes.add(new NumaSnapshot(node, free, pages[node]));
            }
            List<Instant> ends = new ArrayList<>(vms.size());
            for (Vm vm : vms.values()) {
                if (vm.end() != null) {
                    ends.add(vm.end());
                }
            }
            return new HostSnapshot(id, name, "sim", "ready", "HGX-H100", MODEL, "SHARED_NVSWITCH", "passthrough",
                    true, gpus, ps, nodes, ends);
        }

        void apply(UUID vmId, Placement p, Instant end) {
            int pi = -1;
            long heldMask = 0;
            for (int g = 0; g < 8; g++) {
                if (held[g]) {
                    heldMask |= 1L << moduleOfGpu[g];
                }
            }
            if (p.partitionRowId() != null) {
                int pid = (int) (p.partitionRowId() - rowBase());
                for (int k = 0; k < parts.size(); k++) {
                    if (parts.get(k).partitionId() == pid) {
                        pi = k;
                    }
                }
                if (pi < 0) {
                    throw new IllegalStateException(name + ": no partition row " + p.partitionRowId());
                }
                if (allocated[pi] || (partMasks[pi] & heldMask) != 0) {
                    throw new IllegalStateException(name + ": partition " + pid + " overlaps an active one");
                }
            }
            int[] gs = new int[p.gpuDeviceIds().size()];
            long gpuMask = 0;
            for (int k = 0; k < gs.length; k++) {
                long dev = p.gpuDeviceIds().get(k);
                int g = (int) (dev - index * 100L);
                if (g < 0 || g >= 8 || deviceIds[g] != dev || held[g]) {
                    throw new IllegalStateException(name + ": GPU " + dev + " not free");
                }
                gs[k] = g;
                gpuMask |= 1L << moduleOfGpu[g];
            }
            if (pi >= 0 && gpuMask != partMasks[pi]) {
                throw new IllegalStateException(name + ": GPUs are not the partition's members");
            }
            int[] cs = new int[p.cpuIds().size()];
            for (int k = 0; k < cs.length; k++) {
                int c = p.cpuIds().get(k);
                if (!freeCpus.get(c)) {
                    throw new IllegalStateException(name + ": CPU " + c + " not free");
                }
                cs[k] = c;
            }
            int[] pg = new int[2];
            for (Map.Entry<Integer, Integer> e : p.hugepagesByNode().entrySet()) {
                pg[e.getKey()] += e.getValue();
                if (pages[e.getKey()] < pg[e.getKey()]) {
                    throw new IllegalStateException(name + ": hugepages on node " + e.getKey());
                }
            }
            // commit
            if (pi >= 0) {
                allocated[pi] = true;
            }
            for (int g : gs) {
                held[g] = true;
            }
            freeGpus -= gs.length;
            for (int c : cs) {
                freeCpus.clear(c);
            }
            pages[0] -= pg[0];
            pages[1] -= pg[1];
            vms.put(vmId, new Vm(pi, gs, cs, pg, end));
        }

        void release(UUID vmId) {
            Vm vm = vms.remove(vmId);
            if (vm == null) {
                throw new IllegalStateException(name + ": no VM " + vmId);
            }
            if (vm.partitionIndex() >= 0) {
                allocated[vm.partitionIndex()] = false;
            }
            for (int g : vm.gpus()) {
                held[g] = false;
            }
            freeGpus += vm.gpus().length;
            for (int c : vm.cpus()) {
                freeCpus.set(c);
            }
            pages[0] += vm.pages()[0];
            pages[1] += vm.pages()[1];
        }
    }
}
