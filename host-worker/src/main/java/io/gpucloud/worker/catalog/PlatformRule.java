package io.gpucloud.worker.catalog;

import io.gpucloud.protocol.Platform;
import java.util.List;

/**
 * One line of the platform catalog: GPUs of these models, with at least this many NVSwitches of
 * these models, make this platform.
 *
 * @param boardGpus          GPUs of a healthy board; fewer present means a degraded board
 * @param partitionTable     name of the built-in partition table
 * @param singleBoardOfTable the table describes several boards and this platform is one of them
 */
public record PlatformRule(
        Platform platform,
        List<String> gpuModels,
        List<String> nvswitchModels,
        int minNvswitches,
        int minGpus,
        int boardGpus,
        String partitionTable,
        boolean singleBoardOfTable) {

    public PlatformRule {
        gpuModels = gpuModels == null ? List.of() : List.copyOf(gpuModels);
        nvswitchModels = nvswitchModels == null ? List.of() : List.copyOf(nvswitchModels);
        minGpus = Math.max(1, minGpus);
    }
}
