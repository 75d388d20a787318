package io.gpucloud.worker.fabric;

import static io.gpucloud.worker.fabric.SimulatedFmpmTest.gpus;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpucloud.protocol.FabricPartition;
import io.gpucloud.worker.catalog.PartitionTable;
import io.gpucloud.worker.catalog.PlatformCatalog;
import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.fabric.FabricManagerClient.Outcome;
import io.gpucloud.worker.fabric.FabricManagerException.Reason;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FabricManagerClientTest {

    private final PartitionTable hopper = PlatformCatalog.builtin().table("hgx-8-gen3");
    private final SimulatedFmpm fmpm = new SimulatedFmpm(hopper, gpus(1, 2, 3, 4, 5, 6, 7, 8));
    private final FabricManagerClient client = new FabricManagerClient(fmpm);

    @Test
    void listBecomesProtocolPartitions() throws Exception {
        fmpm.run("-a", "6");
        List<FabricPartition> partitions = client.list().partitions();
        assertThat(partitions).hasSize(15);
        assertThat(partitions.get(6)).isEqualTo(new FabricPartition(6, 2, List.of(6, 8), true, true));
        assertThat(partitions.get(0)).isEqualTo(new FabricPartition(0, 8, List.of(1, 2, 3, 4, 5, 6, 7, 8), false, true));
    }

    @Test
    void activateAndDeactivateAreIdempotent() throws Exception {
        assertThat(client.activate(2)).isEqualTo(Outcome.ACTIVATED);
        assertThat(client.activate(2)).isEqualTo(Outcome.ALREADY_ACTIVE);
        assertThat(client.deactivate(2)).isEqualTo(Outcome.DEACTIVATED);
        assertThat(client.deactivate(2)).isEqualTo(Outcome.ALREADY_INACTIVE);
    }

    @Test
    void overlappingActivationIsAConflict() throws Exception {
        client.activate(0);
        assertThatThrownBy(() -> client.activate(14))
                .isInstanceOfSatisfying(FabricManagerException.class, e -> {
                    assertThat(e.reason()).isEqualTo(Reason.PARTITION_CONFLICT);
                    assertThat(e.exitCode()).isEqualTo(249);
                });
        assertThat(fmpm.activePartitions()).containsExactly(0);
    }

    @Test
    void olderFabricManagerSayingInUseForAnActivePartitionIsStillIdempotent() throws Exception {
        Fmpm legacy = args -> {
            CommandResult r = fmpm.run(args);
            return r.exitCode() == 239 ? new CommandResult(249, "Failed to activate partition. fmReturn: -7\n", "") : r;
        };
        FabricManagerClient old = new FabricManagerClient(legacy);
        assertThat(old.activate(3)).isEqualTo(Outcome.ACTIVATED);
        assertThat(old.activate(3)).isEqualTo(Outcome.ALREADY_ACTIVE);
        assertThatThrownBy(() -> old.activate(1)).isInstanceOfSatisfying(FabricManagerException.class,
                e -> assertThat(e.reason()).isEqualTo(Reason.PARTITION_CONFLICT));
    }

    @Test
    void unknownPartition() {
        assertThatThrownBy(() -> client.activate(40)).isInstanceOfSatisfying(FabricManagerException.class,
                e -> assertThat(e.reason()).isEqualTo(Reason.PARTITION_UNKNOWN));
        assertThatThrownBy(() -> client.deactivate(99)).isInstanceOfSatisfying(FabricManagerException.class,
                e -> assertThat(e.reason()).isEqualTo(Reason.PARTITION_UNKNOWN));
    }

    @Test
    void fabricManagerDownOrAbsent() {
        fmpm.setRunning(false);
        assertThatThrownBy(client::list).isInstanceOfSatisfying(FabricManagerException.class,
                e -> assertThat(e.reason()).isEqualTo(Reason.NOT_RUNNING));
        FabricManagerClient none = new FabricManagerClient(Fmpm.system("/nonexistent/fmpm", Duration.ofSeconds(5)));
        assertThatThrownBy(none::list).isInstanceOfSatisfying(FabricManagerException.class,
                e -> assertThat(e.reason()).isEqualTo(Reason.NOT_INSTALLED));
    }

    @Test
    void a100ListingCarriesBusIdsAndBooleanActiveFlagsAreAccepted() throws Exception {
        String json = """
                { "version": 16909068, "numPartitions": 1, "maxNumPartitions": 15,
                  "partitionInfo": [ { "partitionId": 12, "isActive": true, "numGpus": 2, "gpuInfo": [
                    { "physicalId": 3, "uuid": "GPU-x", "pciBusId": "00000000:07:00.0", "numNvLinksAvailable": 12,
                      "maxNumNvLinks": 12, "nvlinkLineRateMBps": 25781 },
                    { "physicalId": 4, "uuid": "GPU-y", "pciBusId": "00000000:0F:00.0", "numNvLinksAvailable": 12,
                      "maxNumNvLinks": 12, "nvlinkLineRateMBps": 25781 } ] } ] }
                """;
        PartitionListing listing = new FabricManagerClient(args -> new CommandResult(0, json, "")).list();
        assertThat(listing.partitions()).containsExactly(new FabricPartition(12, 2, List.of(3, 4), true, true));
        assertThat(listing.gpuBdfByModule()).isEqualTo(Map.of(3, "0000:07:00.0", 4, "0000:0f:00.0"));
    }

    @Test
    void garbageOutputIsReportedAsSuch() {
        FabricManagerClient broken = new FabricManagerClient(args -> new CommandResult(0, "Segmentation fault\n", ""));
        assertThatThrownBy(broken::list).isInstanceOfSatisfying(FabricManagerException.class,
                e -> assertThat(e.reason()).isEqualTo(Reason.BAD_OUTPUT));
    }

    @Test
    void setActivatedListAfterRestart() throws Exception {
        fmpm.setRunning(false);
        fmpm.setRunning(true);
        client.setActivatedList(List.of(6, 3));
        assertThat(fmpm.activePartitions()).containsExactly(3, 6);
    }
}
