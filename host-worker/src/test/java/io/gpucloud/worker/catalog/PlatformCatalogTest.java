package io.gpucloud.worker.catalog;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.protocol.Platform;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class PlatformCatalogTest {

    private final PlatformCatalog catalog = PlatformCatalog.builtin();

    @Test
    void hopperTableHasIds0To14WithNvidiasPairs() {
        PartitionTable t = catalog.table("hgx-8-gen3");
        assertThat(t.partitions()).extracting(PartitionSpec::id).containsExactlyElementsOf(range(0, 14));
        assertThat(t.partitions().get(0).modules()).containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
        assertThat(t.partitions().subList(1, 3)).extracting(PartitionSpec::modules)
                .containsExactly(List.of(1, 2, 3, 4), List.of(5, 6, 7, 8));
        assertThat(t.partitions().subList(3, 7)).extracting(PartitionSpec::modules)
                .containsExactly(List.of(1, 3), List.of(2, 4), List.of(5, 7), List.of(6, 8));
        assertThat(t.partitions().subList(7, 15)).extracting(PartitionSpec::modules)
                .containsExactlyElementsOf(range(1, 8).stream().map(List::of).toList());
    }

    @Test
    void blackwellTableStartsAtOneWithAdjacentPairs() {
        PartitionTable t = catalog.table("hgx-b200-8");
        assertThat(t.partitions()).extracting(PartitionSpec::id).containsExactlyElementsOf(range(1, 15));
        assertThat(t.partitions().subList(3, 7)).extracting(PartitionSpec::modules)
                .containsExactly(List.of(1, 2), List.of(3, 4), List.of(5, 6), List.of(7, 8));
        assertThat(t.partitions().get(7)).isEqualTo(new PartitionSpec(8, List.of(1)));
    }

    @Test
    void a100SixteenGpuTableCrossesBoards() {
        PartitionTable t = catalog.table("hgx-a100-16");
        assertThat(t.partitions()).extracting(PartitionSpec::id).containsExactlyElementsOf(range(0, 34));
        assertThat(t.partitions().get(3).modules()).containsExactly(1, 2, 3, 4, 9, 10, 11, 12);
        assertThat(t.partitions().get(5).modules()).containsExactly(1, 2, 3, 4, 13, 14, 15, 16);
        assertThat(t.partitions().get(18).modules()).containsExactly(15, 16);
        assertThat(t.partitions().get(34).modules()).containsExactly(16);
    }

    @Test
    void aSingleA100BoardKeepsOnlyPartitionsInsideItsIds() {
        PartitionTable t = catalog.table("hgx-a100-16");
        assertThat(t.singleBoard(8, Set.of(1, 2, 3, 5)).partitions()).extracting(PartitionSpec::id)
                .containsExactly(1, 7, 8, 11, 12, 13, 14, 19, 20, 21, 22, 23, 24, 25, 26);
        assertThat(t.singleBoard(8, Set.of(9, 12, 16)).partitions()).extracting(PartitionSpec::id)
                .containsExactly(2, 9, 10, 15, 16, 17, 18, 27, 28, 29, 30, 31, 32, 33, 34);
        assertThat(t.singleBoard(8, Set.of()).moduleIds()).containsExactlyElementsOf(range(1, 8));
    }

    @Test
    void platformFollowsGpuModelAndNvswitches() {
        assertThat(catalog.match("H100-SXM5-80GB", 8, Map.of("NVSwitch-Gen3", 4))).map(PlatformRule::platform)
                .contains(Platform.HGX_H100_8);
        assertThat(catalog.match("H100-SXM5-80GB", 7, Map.of("NVSwitch-Gen3", 4))).map(PlatformRule::platform)
                .as("a degraded board is still the board").contains(Platform.HGX_H100_8);
        assertThat(catalog.match("H100-SXM5-80GB", 8, Map.of())).as("no NVSwitch: no fabric").isEmpty();
        assertThat(catalog.match("B200-SXM-180GB", 8, Map.of())).map(PlatformRule::platform)
                .as("B200 NVSwitches are not PCI devices").contains(Platform.HGX_B200_8);
        assertThat(catalog.match("A100-SXM4-80GB", 8, Map.of("NVSwitch-Gen2", 6))).map(PlatformRule::platform)
                .contains(Platform.HGX_A100_8);
        assertThat(catalog.match("A100-SXM4-80GB", 15, Map.of("NVSwitch-Gen2", 12))).map(PlatformRule::platform)
                .contains(Platform.HGX_A100_16);
        assertThat(catalog.match("A100-SXM4-80GB", 8, Map.of("NVSwitch-Gen2", 12))).map(PlatformRule::platform)
                .as("half of a 16-GPU system is missing, not an 8-GPU board").contains(Platform.HGX_A100_16);
        assertThat(catalog.match("unknown", 4, Map.of())).isEmpty();
    }

    private static List<Integer> range(int from, int to) {
        return IntStream.rangeClosed(from, to).boxed().toList();
    }
}
