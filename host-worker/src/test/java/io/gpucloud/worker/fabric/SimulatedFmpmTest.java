package io.gpucloud.worker.fabric;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.worker.catalog.PartitionSpec;
import io.gpucloud.worker.catalog.PartitionTable;
import io.gpucloud.worker.catalog.PlatformCatalog;
import io.gpucloud.worker.command.CommandResult;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class SimulatedFmpmTest {

    private final PartitionTable hopper = PlatformCatalog.builtin().table("hgx-8-gen3");

    @Test
    void listIsJsoncppStyledOutputWithFmpmsFields() {
        PartitionTable tiny = new PartitionTable("tiny", 18, 26562,
                List.of(new PartitionSpec(0, List.of(1, 2)), new PartitionSpec(1, List.of(1))));
        SimulatedFmpm fmpm = new SimulatedFmpm(tiny, Map.of(
                1, new SimulatedFmpm.FmGpu(1, "GPU-a", ""),
                2, new SimulatedFmpm.FmGpu(2, "GPU-b", "")));
        fmpm.run("-a", "1");

        assertThat(fmpm.run("-l")).isEqualTo(new CommandResult(0, """
                {
                   "maxNumPartitions" : 2,
                   "numPartitions" : 2,
                   "partitionInfo" : [
                      {
                         "gpuInfo" : [
                            {
                               "maxNumNvLinks" : 18,
                               "numNvLinksAvailable" : 18,
                               "nvlinkLineRateMBps" : 26562,
                               "pciBusId" : "",
                               "physicalId" : 1,
                               "uuid" : "GPU-a"
                            },
                            {
                               "maxNumNvLinks" : 18,
                               "numNvLinksAvailable" : 18,
                               "nvlinkLineRateMBps" : 26562,
                               "pciBusId" : "",
                               "physicalId" : 2,
                               "uuid" : "GPU-b"
                            }
                         ],
                         "isActive" : 0,
                         "numGpus" : 2,
                         "partitionId" : 0
                      },
                      {
                         "gpuInfo" : [
                            {
                               "maxNumNvLinks" : 18,
                               "numNvLinksAvailable" : 0,
                               "nvlinkLineRateMBps" : 26562,
                               "pciBusId" : "",
                               "physicalId" : 1,
                               "uuid" : "GPU-a"
                            }
                         ],
                         "isActive" : 1,
                         "numGpus" : 1,
                         "partitionId" : 1
                      }
                   ],
                   "version" : 16909068
                }
                """, ""));
    }

    @Test
    void activationRulesAndExitCodes() {
        SimulatedFmpm fmpm = new SimulatedFmpm(hopper, gpus(1, 2, 3, 4, 5, 6, 7, 8));

        assertThat(fmpm.run("-a", "1")).isEqualTo(new CommandResult(0, "", ""));
        assertThat(fmpm.run("-a", "1"))
                .as("already active").isEqualTo(new CommandResult(239, "Failed to activate partition. fmReturn: -17\n", ""));
        assertThat(fmpm.run("-a", "3"))
                .as("{1,3} overlaps active {1,2,3,4}")
                .isEqualTo(new CommandResult(249, "Failed to activate partition. fmReturn: -7\n", ""));
        assertThat(fmpm.run("-a", "0")).as("the whole board overlaps too").extracting(CommandResult::exitCode).isEqualTo(249);
        assertThat(fmpm.run("-a", "5").exitCode()).as("{5,7} is disjoint").isZero();
        assertThat(fmpm.activePartitions()).containsExactly(1, 5);

        assertThat(fmpm.run("-d", "6"))
                .as("not active").isEqualTo(new CommandResult(238, "Failed to deactivate partition. fmReturn: -18\n", ""));
        assertThat(fmpm.run("-d", "1").exitCode()).isZero();
        assertThat(fmpm.run("-a", "3").exitCode()).as("free again").isZero();
    }

    @Test
    void unknownAndInvalidIds() {
        SimulatedFmpm fmpm = new SimulatedFmpm(hopper, gpus(1, 2, 3, 4, 5, 6, 7, 8));
        assertThat(fmpm.run("-a", "20")).isEqualTo(new CommandResult(255, "Failed to activate partition. fmReturn: -1\n", ""));
        assertThat(fmpm.run("-d", "20")).isEqualTo(new CommandResult(255, "Failed to deactivate partition. fmReturn: -1\n", ""));
        assertThat(fmpm.run("-a", "64")).isEqualTo(new CommandResult(255, "Invalid Partition ID.\n", ""));
        assertThat(fmpm.run("-a", "x").exitCode()).as("std::stoul throws, the process aborts").isEqualTo(134);
        assertThat(fmpm.run("--bogus")).isEqualTo(new CommandResult(255, "", "Invalid argument.\n\n"));
    }

    @Test
    void missingGpuRemovesItsPartitionsWithoutRenumbering() throws Exception {
        SimulatedFmpm fmpm = new SimulatedFmpm(hopper, gpus(1, 2, 4, 5, 6, 7, 8));
        PartitionListing listing = new FabricManagerClient(fmpm).list();

        assertThat(listing.partitions()).extracting(p -> p.partitionId())
                .containsExactly(2, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14);
        assertThat(listing.maxNumPartitions()).isEqualTo(15);
        assertThat(fmpm.run("-l").stdout()).contains("\"numPartitions\" : 11,");
        assertThat(fmpm.run("-a", "0").exitCode()).as("gone with module 3").isEqualTo(255);
        assertThat(fmpm.run("-a", "4").exitCode()).isZero();
    }

    @Test
    void stoppedFabricManagerAndRestartForgetsActivePartitions() {
        SimulatedFmpm fmpm = new SimulatedFmpm(hopper, gpus(1, 2, 3, 4, 5, 6, 7, 8));
        fmpm.run("-a", "0");
        fmpm.setRunning(false);
        assertThat(fmpm.run("-l")).isEqualTo(new CommandResult(247, "Failed to connect to Fabric Manager instance.\n", ""));
        fmpm.setRunning(true);
        assertThat(fmpm.activePartitions()).isEmpty();
        assertThat(fmpm.run("--set-activated-list", "3,6").exitCode()).isZero();
        assertThat(fmpm.activePartitions()).containsExactly(3, 6);
    }

    @Test
    void uninstalledLooksLikeAMissingProgram() {
        SimulatedFmpm fmpm = new SimulatedFmpm(hopper, gpus(1, 2, 3, 4, 5, 6, 7, 8)).uninstalled();
        assertThat(fmpm.run("-l").exitCode()).isEqualTo(127);
    }

    static Map<Integer, SimulatedFmpm.FmGpu> gpus(int... modules) {
        Map<Integer, SimulatedFmpm.FmGpu> map = new LinkedHashMap<>();
        IntStream.of(modules).forEach(m -> map.put(m, new SimulatedFmpm.FmGpu(m, "GPU-" + m, "")));
        return map;
    }
}
