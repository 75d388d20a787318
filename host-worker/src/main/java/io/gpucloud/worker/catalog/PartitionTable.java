package io.gpucloud.worker.catalog;

import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.IntStream;

/**
 * A board's default Shared-NVSwitch partitions.
 *
 * @param maxNvLinksPerGpu   NVLinks per GPU inside a multi-GPU partition (single-GPU partitions use none)
 * @param nvlinkLineRateMBps per-link line rate Fabric Manager reports
 */
public record PartitionTable(String name, int maxNvLinksPerGpu, int nvlinkLineRateMBps, List<PartitionSpec> partitions) {

    public PartitionTable {
        partitions = List.copyOf(partitions);
    }

    /** Every module id some partition uses. */
    public Set<Integer> moduleIds() {
        Set<Integer> ids = new TreeSet<>();
        partitions.forEach(p -> ids.addAll(p.modules()));
        return ids;
    }

    /**
     * The partitions of one board of a multi-board table (HGX A100: a single 8-GPU board is either
     * physical ids 1-8 or 9-16 of the 16-GPU table). Boards are consecutive runs of {@code boardGpus}
     * module ids; the one holding most of {@code presentModules} is chosen, the first when none are known.
     */
    public PartitionTable singleBoard(int boardGpus, Set<Integer> presentModules) {
        List<Integer> all = List.copyOf(moduleIds());
        int boards = Math.max(1, all.size() / boardGpus);
        int best = IntStream.range(0, boards).boxed()
                .max(Comparator.comparingLong((Integer b) -> presentModules.stream()
                                .filter(m -> all.subList(b * boardGpus, (b + 1) * boardGpus).contains(m)).count())
                        .thenComparing(Comparator.reverseOrder()))
                .orElse(0);
        Set<Integer> board = Set.copyOf(all.subList(best * boardGpus, (best + 1) * boardGpus));
        return new PartitionTable(name + "/board" + (best + 1), maxNvLinksPerGpu, nvlinkLineRateMBps,
                partitions.stream().filter(p -> board.containsAll(p.modules())).toList());
    }
}
