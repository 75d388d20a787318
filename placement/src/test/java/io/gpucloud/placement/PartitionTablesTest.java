package io.gpucloud.placement;

import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

class PartitionTablesTest {

    private static Map<Integer, Integer> sizes(PartitionTables.Table t) {
        Map<Integer, Integer> bySize = new TreeMap<>();
        for (PartitionTables.Entry e : t.entries()) {
            bySize.merge(e.moduleIds().size(), 1, Integer::sum);
        }
        return bySize;
    }

    @Test
    void h100TableAsInDesign() {
        PartitionTables.Table t = PartitionTables.HGX_H100;
        assertThat(t.entries()).extracting(PartitionTables.Entry::partitionId).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8,
                9, 10, 11, 12, 13, 14);
        assertThat(t.byId(3).moduleIds()).isEqualTo(Set.of(1, 3));
        assertThat(t.byId(4).moduleIds()).isEqualTo(Set.of(2, 4));
        assertThat(t.byId(5).moduleIds()).isEqualTo(Set.of(5, 7));
        assertThat(t.byId(6).moduleIds()).isEqualTo(Set.of(6, 8));
        assertThat(t.byId(7).moduleIds()).isEqualTo(Set.of(1));
        assertThat(t.byId(14).moduleIds()).isEqualTo(Set.of(8));
        assertThat(sizes(t)).containsExactly(Map.entry(1, 8), Map.entry(2, 4), Map.entry(4, 2), Map.entry(8, 1));
    }

    @Test
    void b200TableStartsAtOneWithAdjacentPairs() {
        PartitionTables.Table t = PartitionTables.HGX_B200;
        assertThat(t.entries().get(0).partitionId()).isEqualTo(1);
        assertThat(t.byId(1).moduleIds()).hasSize(8);
        assertThat(t.byId(4).moduleIds()).isEqualTo(Set.of(1, 2));
        assertThat(t.byId(7).moduleIds()).isEqualTo(Set.of(7, 8));
        assertThat(t.byId(15).moduleIds()).isEqualTo(Set.of(8));
        assertThat(sizes(t)).containsExactly(Map.entry(1, 8), Map.entry(2, 4), Map.entry(4, 2), Map.entry(8, 1));
    }

    @Test
    void a100SixteenGpuTable() {
        PartitionTables.Table t = PartitionTables.HGX_A100_16;
        assertThat(t.entries()).hasSize(35);
        assertThat(t.gpuCount()).isEqualTo(16);
        assertThat(t.byId(3).moduleIds()).containsExactlyInAnyOrder(1, 2, 3, 4, 9, 10, 11, 12);
        assertThat(t.byId(6).moduleIds()).containsExactlyInAnyOrder(5, 6, 7, 8, 9, 10, 11, 12);
        assertThat(t.byId(10).moduleIds()).containsExactlyInAnyOrder(13, 14, 15, 16);
        assertThat(t.byId(11).moduleIds()).isEqualTo(Set.of(1, 2));
        assertThat(t.byId(18).moduleIds()).isEqualTo(Set.of(15, 16));
        assertThat(t.byId(34).moduleIds()).isEqualTo(Set.of(16));
        assertThat(sizes(t)).containsExactly(Map.entry(1, 16), Map.entry(2, 8), Map.entry(4, 4), Map.entry(8, 6),
                Map.entry(16, 1));
    }
}
