package io.gpucloud.worker.discovery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class CpuListTest {

    @Test
    void rangesAndSingles() {
        assertThat(CpuList.parse("0-3,8,10-11")).containsExactly(0, 1, 2, 3, 8, 10, 11);
    }

    @Test
    void kernelFileContentWithTrailingNewline() {
        assertThat(CpuList.parse("0-55,112-167\n")).hasSize(112).startsWith(0, 1).endsWith(166, 167);
    }

    @Test
    void interleavedNodesAreLongListsOfSingles() {
        assertThat(CpuList.parse("0,2,4,6")).containsExactly(0, 2, 4, 6);
    }

    @Test
    void memoryOnlyNodeHasNoCpus() {
        assertThat(CpuList.parse("\n")).isEmpty();
    }

    @Test
    void garbageIsRejected() {
        assertThatThrownBy(() -> CpuList.parse("0-3,x")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> CpuList.parse("7-3")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> CpuList.parse("0--3")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void formatIsTheKernelsRendering() {
        assertThat(CpuList.format(List.of(3, 0, 1, 2, 8, 10, 11))).isEqualTo("0-3,8,10-11");
        List<Integer> even = IntStream.range(0, 8).map(i -> 2 * i).boxed().toList();
        assertThat(CpuList.format(even)).isEqualTo("0,2,4,6,8,10,12,14");
        assertThat(CpuList.parse(CpuList.format(even))).isEqualTo(even);
    }
}
