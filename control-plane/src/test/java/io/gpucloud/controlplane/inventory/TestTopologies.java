package io.gpucloud.controlplane.inventory;

import io.gpucloud.protocol.Cpu;
import io.gpucloud.protocol.DeviceKind;
import io.gpucloud.protocol.FabricMode;
import io.gpucloud.protocol.FabricPartition;
import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.NumaNode;
import io.gpucloud.protocol.PciDevice;
import io.gpucloud.protocol.Platform;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Small hand-made topologies whose every value a test can reason about: an HGX H100 with the
 * module order seen on a real board (bus 18, 2a, 3a, 5d, 9a, ab, ba, db = module 2, 4, 1, 3, 6, 8, 5, 7)
 * and 16 logical CPUs numbered interleaved across two NUMA nodes.
 */
final class TestTopologies {

    static final String[] GPU_BUSES = {"18", "2a", "3a", "5d", "9a", "ab", "ba", "db"};
    static final int[] MODULES = {2, 4, 1, 3, 6, 8, 5, 7};

    private TestTopologies() {
    }

    static HostTopology hgxH100(String name) {
        return hgxH100(name, Set.of(), true);
    }

    /** @param missingModules modules whose GPU fell off the bus; their partitions stay listed but unavailable */
    static HostTopology hgxH100(String name, Set<Integer> missingModules, boolean moduleIdsVisible) {
        List<Cpu> cpus = new ArrayList<>();
        for (int id = 0; id < 16; id++) {
            int node = id % 2;
            int core = (id % 8) / 2;
            int sibling = id < 8 ? id + 8 : id - 8;
            cpus.add(new Cpu(id, node, core, node, List.of(Math.min(id, sibling), Math.max(id, sibling))));
        }
        List<NumaNode> nodes = List.of(
                new NumaNode(0, List.of(0, 2, 4, 6, 8, 10, 12, 14), 1_048_576, 960, 960, 0),
                new NumaNode(1, List.of(1, 3, 5, 7, 9, 11, 13, 15), 1_048_576, 960, 960, 0));
        List<PciDevice> devices = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            if (missingModules.contains(MODULES[i])) {
                continue;
            }
            String sw = "0000:" + hex(Integer.parseInt(GPU_BUSES[i], 16) - 2) + ":00.0";
            devices.add(new PciDevice("0000:" + GPU_BUSES[i] + ":00.0", "10de", "2330", "030200", DeviceKind.GPU,
                    "H100-SXM5-80GB", i < 4 ? 0 : 1, 10 + i, sw, sw, "0000:00:0" + (i / 2 + 1) + ".0", "nvidia",
                    moduleIdsVisible ? MODULES[i] : null, List.of(16_777_216L, 137_438_953_472L, 33_554_432L)));
        }
        for (int s = 0; s < 4; s++) {
            devices.add(new PciDevice("0000:0" + (5 + s) + ":00.0", "10de", "22a3", "068000", DeviceKind.NVSWITCH,
                    "NVSwitch-gen3", s < 2 ? 0 : 1, 30 + s, null, null, null, "nvidia", null, List.of()));
        }
        List<FabricPartition> partitions = new ArrayList<>();
        int[][] table = {{1, 2, 3, 4, 5, 6, 7, 8}, {1, 2, 3, 4}, {5, 6, 7, 8}, {1, 3}, {2, 4}, {5, 7}, {6, 8},
                {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}};
        for (int id = 0; id < table.length; id++) {
            List<Integer> members = java.util.Arrays.stream(table[id]).boxed().toList();
            boolean available = members.stream().noneMatch(missingModules::contains);
            partitions.add(new FabricPartition(id, members.size(), members, false, available));
        }
        return new HostTopology(name, Platform.HGX_H100_8, "H100-SXM5-80GB", FabricMode.SHARED_NVSWITCH, "builtin",
                true, nodes, cpus, devices, partitions, List.of());
    }

    private static String hex(int v) {
        return String.format("%02x", v);
    }
}
