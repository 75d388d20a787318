package io.gpucloud.controlplane.placement;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.benchmark.SyntheticFleet;
import io.gpucloud.controlplane.tenancy.Projects;
import io.gpucloud.placement.NumaPolicy;
import io.gpucloud.placement.PlacementRequest;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The free-GPU and free-partition gauges an operator alerts on count what placement could really hand
 * out, the same whether a host is counted from the fleet cache or, when its snapshot is not in
 * memory, from the database.
 */
class CapacityMetricsTest extends ControlPlaneTestBase {

    private static final String MODEL = "METRICS-TEST-GPU";
    private static final String LOCATION = "capacity-1";

    @Autowired
    CapacityMetrics metrics;
    @Autowired
    FleetCache cache;
    @Autowired
    PlacementService placement;
    @Autowired
    MeterRegistry registry;
    @Autowired
    TransactionTemplate tx;
    @Autowired
    Projects projects;

    @Test
    void heldQuarantinedAndNotReadyCapacityLeavesTheFreeCountsFromMemoryAndFromSql() {
        cache.refreshAll(cache.generation()); // loaded, as it is in a running control plane
        new SyntheticFleet(jdbc, tx).create("capacity", LOCATION, 1, List.of("H100-SXM5-80GB"));
        UUID host = jdbc.sql("SELECT id FROM host WHERE location = ?").param(LOCATION).query(UUID.class).single();
        // a model of its own, so that no other test's hosts add to these gauges
        jdbc.sql("UPDATE host SET gpu_model = ? WHERE id = ?").params(MODEL, host).update();
        jdbc.sql("UPDATE pci_device SET model = ? WHERE host_id = ? AND kind = 'gpu'").params(MODEL, host).update();

        sampleBothWays(host, Map.of(1, 8, 2, 4, 4, 2, 8, 1), 8);

        // module 1 quarantined: {1}, {1,3}, {1,2,3,4} and the 8-GPU partition are gone (the H100 table pairs 1 with 3)
        jdbc.sql("UPDATE pci_device SET health = 'quarantined' WHERE host_id = ? AND kind = 'gpu' AND module_id = 1")
                .param(host).update();
        sampleBothWays(host, Map.of(1, 7, 2, 3, 4, 1, 8, 0), 7);

        // a 1-GPU VM placed for real: least damage takes module 3, whose larger partitions are gone already
        UUID vm = UUID.randomUUID();
        jdbc.sql("INSERT INTO vm (id, project_id, name, instance_type, gpu_model, gpu_count, vcpus, memory_mib) "
                        + "VALUES (?, ?, 'capacity-vm', 't', ?, 1, 8, 16384)")
                .params(vm, projects.ensureProject("capacity", "capacity"), MODEL).update();
        var placed = placement.place(new PlacementRequest(vm, MODEL, 1, 8, 16384, LOCATION, Set.of(),
                NumaPolicy.REQUIRED, false, null));
        assertThat(placed.placement()).isPresent();
        assertThat(jdbc.sql("SELECT module_id FROM pci_device WHERE vm_id = ? AND kind = 'gpu'").param(vm)
                .query(Integer.class).single()).isEqualTo(3);
        sampleBothWays(host, Map.of(1, 6, 2, 3, 4, 1, 8, 0), 6);

        placement.release(vm);
        sampleBothWays(host, Map.of(1, 7, 2, 3, 4, 1, 8, 0), 7);

        // a host that is not ready offers nothing
        jdbc.sql("UPDATE host SET state = 'draining' WHERE id = ?").param(host).update();
        sampleBothWays(host, Map.of(1, 0, 2, 0, 4, 0, 8, 0), 0);
    }

    /** Samples with the host's snapshot in memory, then without it (counted in SQL): both must read the same. */
    private void sampleBothWays(UUID host, Map<Integer, Integer> partitionsBySize, int gpus) {
        cache.refresh(List.of(host)); // what the placement_host announcement would do, without waiting for it
        cache.load(List.of(host), "warm");
        assertThat(cache.slot(host).entry.snapshot()).isNotNull();
        metrics.sample();
        assertThat(freePartitionsBySize()).as("from the fleet cache").isEqualTo(partitionsBySize);
        assertThat(freeGpus()).as("from the fleet cache").isEqualTo(gpus);

        cache.invalidate(host);
        assertThat(cache.slot(host).entry.snapshot()).isNull();
        metrics.sample();
        assertThat(freePartitionsBySize()).as("from SQL").isEqualTo(partitionsBySize);
        assertThat(freeGpus()).as("from SQL").isEqualTo(gpus);
    }

    private Map<Integer, Integer> freePartitionsBySize() {
        Map<Integer, Integer> out = new TreeMap<>();
        for (Gauge g : registry.find("gpucloud.partitions.free").tag("model", MODEL).gauges()) {
            out.put(Integer.parseInt(g.getId().getTag("size")), (int) g.value());
        }
        return out;
    }

    private int freeGpus() {
        return (int) registry.get("gpucloud.gpus.free").tag("model", MODEL).tag("location", LOCATION).gauge().value();
    }
}
