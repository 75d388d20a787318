package io.gpucloud.placement;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.IntUnaryOperator;

/** Builders for host snapshots and requests shared by the tests. */
final class TestHosts {

    static final String H100 = "H100-SXM5-80GB";
    static final Instant NOW = Instant.parse("2025-01-01T00:00:00Z");

    private TestHosts() {
    }

    /** The three built-in tables, with their GPU model and NUMA split (first half of the modules on node 0). */
    record Platform(String name, PartitionTables.Table table, String model) {
        int gpus() {
            return table.gpuCount();
        }

        int numaOf(int module) {
            return module <= gpus() / 2 ? 0 : 1;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static final Platform H100_PLATFORM = new Platform("H100", PartitionTables.HGX_H100, H100);
    static final Platform B200_PLATFORM = new Platform("B200", PartitionTables.HGX_B200, "B200-SXM-180GB");
    static final Platform A100_PLATFORM = new Platform("A100x16", PartitionTables.HGX_A100_16, "A100-SXM4-80GB");

    static List<Platform> platforms() {
        return List.of(H100_PLATFORM, B200_PLATFORM, A100_PLATFORM);
    }

    static HostBuilder hgx(Platform p) {
        return new HostBuilder(p);
    }

    static HostBuilder h100() {
        return hgx(H100_PLATFORM);
    }

    static int counter;

    static final class HostBuilder {
        final Platform platform;
        String name;
        UUID id;
        String state = "ready";
        String location = "fra1";
        String model;
        String fabric = "SHARED_NVSWITCH";
        String virt = "passthrough";
        boolean passthrough = true;
        final Map<Integer, long[]> gpuByModule = new TreeMap<>(); // module -> {deviceId}
        final Set<Integer> held = new HashSet<>();
        final Set<Integer> unhealthy = new HashSet<>();
        final Set<Integer> missing = new HashSet<>();
        final Set<Integer> allocatedPartitions = new HashSet<>();
        final List<Instant> ends = new ArrayList<>();
        IntUnaryOperator numaOfModule;
        int coresPerNode = 32;
        int hugepagesPerNode = 512;
        final Set<Integer> takenCpus = new HashSet<>();
        final int[] hugepagesTaken = new int[2];
        boolean unknownNuma;
        Set<String> bootImages; // null: not reported

        HostBuilder(Platform p) {
            this.platform = p;
            this.model = p.model();
            int n = ++counter;
            this.name = p.name().toLowerCase() + "-" + n;
            this.id = new UUID(0xABCL, n);
            this.numaOfModule = p::numaOf;
        }

        HostBuilder name(String v) {
            name = v;
            return this;
        }

        /** The boot images the host's worker reported (none reported unless this is called). */
        HostBuilder bootImages(String... paths) {
            bootImages = Set.of(paths);
            return this;
        }

        HostBuilder state(String v) {
            state = v;
            return this;
        }

        HostBuilder location(String v) {
            location = v;
            return this;
        }

        HostBuilder model(String v) {
            model = v;
            return this;
        }

        HostBuilder fabric(String v) {
            fabric = v;
            return this;
        }

        HostBuilder virt(String v) {
            virt = v;
            return this;
        }

        HostBuilder passthrough(boolean v) {
            passthrough = v;
            return this;
        }

        /** Marks the partition allocated and its members held, as the claim does. */
        HostBuilder hold(int partitionId) {
            allocatedPartitions.add(partitionId);
            held.addAll(platform.table().byId(partitionId).moduleIds());
            return this;
        }

        HostBuilder holdModules(Integer... modules) {
            held.addAll(List.of(modules));
            return this;
        }

        HostBuilder unhealthy(int module) {
            unhealthy.add(module);
            return this;
        }

        /** GPU gone from the board: not listed, and its partitions unavailable (as inventory reports). */
        HostBuilder missing(int module) {
            missing.add(module);
            return this;
        }

        HostBuilder endsIn(Duration... ds) {
            for (Duration d : ds) {
                ends.add(NOW.plus(d));
            }
            return this;
        }

        HostBuilder cpus(int coresPerNode, int hugepagesPerNode) {
            this.coresPerNode = coresPerNode;
            this.hugepagesPerNode = hugepagesPerNode;
            return this;
        }

        HostBuilder takeCpus(Integer... cpus) {
            takenCpus.addAll(List.of(cpus));
            return this;
        }

        HostBuilder takeHugepages(int node, int pages) {
            hugepagesTaken[node] += pages;
            return this;
        }

        HostBuilder unknownNuma() {
            unknownNuma = true;
            return this;
        }

        long deviceId(int module) {
            return id.getLeastSignificantBits() * 1000 + module;
        }

        long rowId(int partitionId) {
            return id.getLeastSignificantBits() * 1000 + partitionId;
        }

        HostSnapshot build() {
            List<GpuSnapshot> gpus = new ArrayList<>();
            for (int m = 1; m <= platform.gpus(); m++) {
                if (missing.contains(m)) {
                    continue;
                }
                gpus.add(new GpuSnapshot(deviceId(m), String.format("0000:%02x:00.0", 0x10 + m), m,
                        unknownNuma ? null : numaOfModule.applyAsInt(m), 100 + m, !unhealthy.contains(m),
                        held.contains(m)));
            }
            List<PartitionSnapshot> parts = new ArrayList<>();
            for (PartitionTables.Entry e : platform.table().entries()) {
                boolean available = e.moduleIds().stream().noneMatch(missing::contains);
                parts.add(new PartitionSnapshot(rowId(e.partitionId()), e.partitionId(), e.moduleIds(), available,
                        allocatedPartitions.contains(e.partitionId())));
            }
            return new HostSnapshot(id, name, location, state, "HGX", model, fabric, virt, passthrough, gpus,
                    fabric.equals("SHARED_NVSWITCH") ? parts : List.of(),
                    interleavedNuma(coresPerNode, takenCpus, hugepagesPerNode, hugepagesTaken), ends, bootImages);
        }
    }

    /**
     * Two NUMA nodes with interleaved numbering: even CPUs on node 0, odd on node 1; CPU c and
     * c + 2*coresPerNode are hyperthread siblings (core key c mod 2*coresPerNode).
     */
    static List<NumaSnapshot> interleavedNuma(int coresPerNode, Set<Integer> taken, int hugepagesPerNode,
                                              int[] hugepagesTaken) {
        int cores = 2 * coresPerNode;
        List<NumaSnapshot> nodes = new ArrayList<>();
        for (int node = 0; node < 2; node++) {
            List<NumaSnapshot.FreeCpu> free = new ArrayList<>();
            for (int c = node; c < 2 * cores; c += 2) {
                if (!taken.contains(c)) {
                    int core = c % cores;
                    free.add(new NumaSnapshot.FreeCpu(c, core, List.of(core, core + cores)));
                }
            }
            nodes.add(new NumaSnapshot(node, free, hugepagesPerNode - hugepagesTaken[node]));
        }
        return nodes;
    }

    static PlacementRequest gpus(String model, int count) {
        return request(model, count, 4 * Math.max(1, count), 16L * 1024 * Math.max(1, count), NumaPolicy.PREFERRED,
                false, null);
    }

    static PlacementRequest request(String model, int count, int vcpus, long memoryMiB, NumaPolicy policy,
                                    boolean dedicated, Duration expected) {
        return new PlacementRequest(UUID.randomUUID(), model, count, vcpus, memoryMiB, null, Set.of(), policy,
                dedicated, expected);
    }

    static PlacementPolicy policy() {
        return new PlacementPolicy(PolicyWeights.DEFAULTS, java.time.Clock.fixed(NOW, java.time.ZoneOffset.UTC));
    }

    /** The partition id a placement on {@code host} names. */
    static int partitionId(HostSnapshot host, Placement p) {
        for (PartitionSnapshot ps : host.partitions()) {
            if (p.partitionRowId() != null && ps.rowId() == p.partitionRowId()) {
                return ps.partitionId();
            }
        }
        throw new AssertionError("no partition " + p.partitionRowId() + " on " + host.name());
    }

    /** Applies a placement to a snapshot (held GPUs, allocated partition, taken CPUs/hugepages). */
    static HostSnapshot apply(HostSnapshot h, Placement p) {
        Set<Long> gpuIds = new HashSet<>(p.gpuDeviceIds());
        List<GpuSnapshot> gpus = new ArrayList<>();
        for (GpuSnapshot g : h.gpus()) {
            gpus.add(gpuIds.contains(g.deviceId())
                    ? new GpuSnapshot(g.deviceId(), g.bdf(), g.moduleId(), g.numaNode(), g.iommuGroup(), g.healthy(), true)
                    : g);
        }
        List<PartitionSnapshot> parts = new ArrayList<>();
        for (PartitionSnapshot ps : h.partitions()) {
            boolean mine = p.partitionRowId() != null && ps.rowId() == p.partitionRowId();
            parts.add(mine ? new PartitionSnapshot(ps.rowId(), ps.partitionId(), ps.moduleIds(), ps.available(), true) : ps);
        }
        Set<Integer> cpus = new HashSet<>(p.cpuIds());
        List<NumaSnapshot> nodes = new ArrayList<>();
        for (NumaSnapshot n : h.numaNodes()) {
            List<NumaSnapshot.FreeCpu> free = new ArrayList<>();
            for (NumaSnapshot.FreeCpu c : n.freeCpus()) {
                if (!cpus.contains(c.cpuId())) {
                    free.add(c);
                }
            }
            nodes.add(new NumaSnapshot(n.nodeId(), free,
                    n.freeHugepages1g() - p.hugepagesByNode().getOrDefault(n.nodeId(), 0)));
        }
        return new HostSnapshot(h.hostId(), h.name(), h.location(), h.state(), h.platform(), h.gpuModel(),
                h.fabricMode(), h.virtualizationMode(), h.passthroughCapable(), gpus, parts, nodes, h.vmEndTimes());
    }
}
