package io.gpucloud.placement;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The built-in default Shared-NVSwitch partition tables (DESIGN.md §4): the fallback when a host
 * has not reported {@code fmpm -l} yet, the test oracle, and the benchmark's board model. The
 * policy itself never branches on the platform: it reads only module-id sets.
 */
public final class PartitionTables {

    /** One table: partition ids and their member module ids, in partition-id order. */
    public record Table(String name, List<Entry> entries) {
        public Table {
            entries = List.copyOf(entries);
        }

        public int gpuCount() {
            int max = 0;
            for (Entry e : entries) {
                max = Math.max(max, e.moduleIds().size());
            }
            return max;
        }

        public Entry byId(int partitionId) {
            for (Entry e : entries) {
                if (e.partitionId() == partitionId) {
                    return e;
                }
            }
            throw new IllegalArgumentException("no partition " + partitionId + " in " + name);
        }

        /** Every partition as an unallocated, available snapshot with row id {@code rowIdBase + partitionId}. */
        public List<PartitionSnapshot> snapshots(long rowIdBase) {
            List<PartitionSnapshot> out = new ArrayList<>(entries.size());
            for (Entry e : entries) {
                out.add(new PartitionSnapshot(rowIdBase + e.partitionId(), e.partitionId(), e.moduleIds(), true, false));
            }
            return out;
        }
    }

    public record Entry(int partitionId, Set<Integer> moduleIds) {
        public Entry {
            moduleIds = Set.copyOf(moduleIds);
        }
    }

    /** HGX H100 / H200 / H800: ids 0..14; pairs {1,3},{2,4},{5,7},{6,8}. */
    public static final Table HGX_H100 = new Table("HGX H100/H200", List.of(
            e(0, range(1, 8)),
            e(1, range(1, 4)), e(2, range(5, 8)),
            e(3, Set.of(1, 3)), e(4, Set.of(2, 4)), e(5, Set.of(5, 7)), e(6, Set.of(6, 8)),
            e(7, Set.of(1)), e(8, Set.of(2)), e(9, Set.of(3)), e(10, Set.of(4)),
            e(11, Set.of(5)), e(12, Set.of(6)), e(13, Set.of(7)), e(14, Set.of(8))));

    /** HGX B200 / B300: ids 1..15; pairs adjacent. */
    public static final Table HGX_B200 = new Table("HGX B200/B300", List.of(
            e(1, range(1, 8)),
            e(2, range(1, 4)), e(3, range(5, 8)),
            e(4, Set.of(1, 2)), e(5, Set.of(3, 4)), e(6, Set.of(5, 6)), e(7, Set.of(7, 8)),
            e(8, Set.of(1)), e(9, Set.of(2)), e(10, Set.of(3)), e(11, Set.of(4)),
            e(12, Set.of(5)), e(13, Set.of(6)), e(14, Set.of(7)), e(15, Set.of(8))));

    /** HGX A100, two-board 16-GPU system: ids 0..34 (cross-board 8-GPU partitions 3..6). */
    public static final Table HGX_A100_16 = a100();

    private static Table a100() {
        List<Entry> es = new ArrayList<>();
        es.add(e(0, range(1, 16)));
        es.add(e(1, range(1, 8)));
        es.add(e(2, range(9, 16)));
        es.add(e(3, union(range(1, 4), range(9, 12))));
        es.add(e(4, union(range(5, 8), range(13, 16))));
        es.add(e(5, union(range(1, 4), range(13, 16))));
        es.add(e(6, union(range(5, 8), range(9, 12))));
        for (int i = 0; i < 4; i++) {
            es.add(e(7 + i, range(1 + 4 * i, 4 + 4 * i)));
        }
        for (int i = 0; i < 8; i++) {
            es.add(e(11 + i, Set.of(1 + 2 * i, 2 + 2 * i)));
        }
        for (int i = 0; i < 16; i++) {
            es.add(e(19 + i, Set.of(1 + i)));
        }
        return new Table("HGX A100 16-GPU", es);
    }

    private static Entry e(int id, Set<Integer> modules) {
        return new Entry(id, modules);
    }

    private static Set<Integer> range(int from, int to) {
        Set<Integer> s = new TreeSet<>();
        for (int i = from; i <= to; i++) {
            s.add(i);
        }
        return s;
    }

    private static Set<Integer> union(Set<Integer> a, Set<Integer> b) {
        Set<Integer> s = new TreeSet<>(a);
        s.addAll(b);
        return s;
    }

    private PartitionTables() {
    }
}
