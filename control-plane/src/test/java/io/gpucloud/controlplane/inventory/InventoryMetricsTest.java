package io.gpucloud.controlplane.inventory;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.benchmark.SyntheticFleet;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.transaction.support.TransactionTemplate;

/** The free-partition gauge an operator alerts on counts what placement could really hand out. */
class InventoryMetricsTest extends ControlPlaneTestBase {

    private static final String MODEL = "METRICS-TEST-GPU";

    @Autowired
    InventoryMetrics metrics;
    @Autowired
    MeterRegistry registry;
    @Autowired
    TransactionTemplate tx;
    @Autowired
    io.gpucloud.controlplane.tenancy.Projects projects;

    @Test
    void aHeldOrQuarantinedGpuTakesEveryPartitionItIsPartOfOffTheFreeCount() {
        new SyntheticFleet(jdbc, tx).create("metrics", "metrics-1", 1, List.of("H100-SXM5-80GB"));
        UUID host = jdbc.sql("SELECT id FROM host WHERE location = 'metrics-1'").query(UUID.class).single();
        jdbc.sql("UPDATE host SET gpu_model = ? WHERE id = ?").params(MODEL, host).update(); // a model of its own

        metrics.sample();
        assertThat(freeBySize()).isEqualTo(Map.of(1, 8.0, 2, 4.0, 4, 2.0, 8, 1.0));

        // module 1 quarantined: {1}, {1,2}, {1,2,3,4} and the 8-GPU partition are gone
        jdbc.sql("UPDATE pci_device SET health = 'quarantined' WHERE host_id = ? AND kind = 'gpu' AND module_id = 1")
                .param(host).update();
        metrics.sample();
        assertThat(freeBySize()).isEqualTo(Map.of(1, 7.0, 2, 3.0, 4, 1.0, 8, 0.0));

        // module 8 held by a VM: {8}, {7,8}, {5,6,7,8} go too
        UUID vm = UUID.randomUUID();
        jdbc.sql("""
                INSERT INTO vm (id, project_id, name, instance_type, vcpus, memory_mib, state, host_id)
                VALUES (?, ?, 'metrics-vm', 't', 1, 1024, 'running', ?)
                """).params(vm, projects.ensureProject("metrics", "metrics"), host).update();
        jdbc.sql("UPDATE pci_device SET vm_id = ? WHERE host_id = ? AND kind = 'gpu' AND module_id = 8")
                .params(vm, host).update();
        try {
            metrics.sample();
            assertThat(freeBySize()).isEqualTo(Map.of(1, 6.0, 2, 2.0, 4, 0.0, 8, 0.0));
        } finally {
            // written by hand, not claimed: take it back so the shared database's placement audit stays clean
            jdbc.sql("UPDATE pci_device SET vm_id = NULL WHERE vm_id = ?").param(vm).update();
            jdbc.sql("UPDATE vm SET host_id = NULL, state = 'deleted', deleted_at = now() WHERE id = ?").param(vm).update();
        }

        // a host that is not ready offers nothing
        jdbc.sql("UPDATE host SET state = 'draining' WHERE id = ?").param(host).update();
        metrics.sample();
        assertThat(freeBySize()).isEqualTo(Map.of(1, 0.0, 2, 0.0, 4, 0.0, 8, 0.0));
    }

    private Map<Integer, Double> freeBySize() {
        Map<Integer, Double> out = new java.util.TreeMap<>();
        for (Gauge g : registry.find("gpucloud.partitions.free").tag("model", MODEL).gauges()) {
            out.put(Integer.parseInt(g.getId().getTag("size")), g.value());
        }
        return out;
    }
}
