package io.gpucloud.controlplane.vm;

import io.gpucloud.controlplane.inventory.HostRegistry;
import io.gpucloud.controlplane.workflow.StrandStore;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.UUID;
import org.springframework.context.event.EventListener;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * VMs that wait for capacity ({@code pending} at {@code wait_for_capacity}) try again with backoff,
 * up to a minute apart. When capacity appears (a VM is deleted, a host becomes ready, a GPU returns
 * to service) the ones that could use it try again as soon as that commits instead. Not all of them:
 * as many as there are GPUs to take, at least one, because waking every waiting VM would only have
 * most of them fail again.
 * Those that asked for the host's location come first (fewer hosts fit them), then the longest waiting.
 */
@Component
public class CapacityWaiters {

    private final JdbcClient jdbc;
    private final StrandStore strands;
    private final MeterRegistry meters;

    public CapacityWaiters(JdbcClient jdbc, StrandStore strands, MeterRegistry meters) {
        this.jdbc = jdbc;
        this.strands = strands;
        this.meters = meters;
    }

    /** {@code vmId}, released in this transaction, gave back what it held on {@code hostId}. */
    void freed(UUID hostId, UUID vmId) {
        var vm = jdbc.sql("SELECT gpu_model, gpu_count FROM vm WHERE id = ?").param(vmId)
                .query((rs, n) -> new Object[] {rs.getString(1), rs.getInt(2)}).single();
        wake("vm-deleted", hostId, "w.gpu_model IS NOT DISTINCT FROM ?", (String) vm[0], (int) vm[1]);
    }

    /** A host can take more: its free GPUs to VMs of its model, its CPUs to GPU-less VMs. */
    @EventListener
    void capacityAdded(HostRegistry.CapacityAdded event) {
        var host = jdbc.sql("SELECT gpu_model, total_gpus - used_gpus FROM host WHERE id = ?").param(event.hostId())
                .query((rs, n) -> new Object[] {rs.getString(1), rs.getInt(2)}).optional();
        host.ifPresent(h -> wake("host-capacity", event.hostId(), "(w.gpu_model IS NULL OR w.gpu_model = ?)",
                (String) h[0], (int) h[1]));
    }

    private void wake(String cause, UUID hostId, String sameModel, String gpuModel, int count) {
        List<UUID> waiting = jdbc.sql("""
                SELECT (w.placement->>'strandId')::uuid FROM vm w
                 WHERE w.state = 'pending' AND w.placement->>'strandId' IS NOT NULL AND %s
                   AND (w.location IS NULL OR w.location = (SELECT location FROM host WHERE id = ?))
                 ORDER BY w.location IS NULL, w.created_at
                 LIMIT ?
                """.formatted(sameModel)).params(gpuModel, hostId, Math.max(1, count)).query(UUID.class).list();
        strands.wakeAll(waiting);
        meters.counter("gpucloud.vms.capacity.retries", "cause", cause).increment(waiting.size());
    }
}
