package io.gpucloud.controlplane.vm;

import io.gpucloud.controlplane.inventory.HostRegistry;
import io.gpucloud.controlplane.workflow.StrandStore;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import org.springframework.context.event.EventListener;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * VMs that wait for capacity ({@code pending} at {@code wait_for_capacity}) try again with backoff,
 * up to a minute apart. When capacity appears (a VM is deleted, a host becomes ready, a GPU returns
 * to service, a failed create is rolled back) the ones that could use it try again as soon as that
 * commits instead. Not all of them:
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

    /** {@code vmId}, deleted in this transaction, gave back what it held on {@code hostId}. */
    void deleted(UUID hostId, UUID vmId) {
        freed("vm-deleted", hostId, vmId);
    }

    /**
     * {@code vmId}'s create failed and was rolled back in this transaction: what it held on {@code hostId},
     * less any GPU now suspect, is free again, whether the VM ends there or waits to try again.
     */
    void rolledBack(UUID hostId, UUID vmId) {
        freed("vm-rolled-back", hostId, vmId);
    }

    private void freed(String cause, UUID hostId, UUID vmId) {
        var vm = jdbc.sql("SELECT gpu_model, gpu_count FROM vm WHERE id = ?").param(vmId)
                .query((rs, n) -> new Object[] {rs.getString(1), rs.getInt(2)}).single();
        wake(cause, hostId, "w.gpu_model IS NOT DISTINCT FROM ? AND w.id <> ?", (int) vm[1], vm[0], vmId);
    }

    /** A host can take more: its free GPUs to VMs of its model, its CPUs to GPU-less VMs. */
    @EventListener
    void capacityAdded(HostRegistry.CapacityAdded event) {
        var host = jdbc.sql("SELECT gpu_model, total_gpus - used_gpus FROM host WHERE id = ?").param(event.hostId())
                .query((rs, n) -> new Object[] {rs.getString(1), rs.getInt(2)}).optional();
        host.ifPresent(h -> wake("host-capacity", event.hostId(), "(w.gpu_model IS NULL OR w.gpu_model = ?)",
                (int) h[1], h[0]));
    }

    /** {@code which} is a condition on the waiting VM {@code w}; {@code whichParams} fill its placeholders. */
    private void wake(String cause, UUID hostId, String which, int count, Object... whichParams) {
        List<Object> params = new ArrayList<>(Arrays.asList(whichParams)); // a GPU-less VM's model is null
        params.add(hostId);
        params.add(Math.max(1, count));
        List<UUID> waiting = jdbc.sql("""
                SELECT (w.placement->>'strandId')::uuid FROM vm w
                 WHERE w.state = 'pending' AND w.placement->>'strandId' IS NOT NULL AND %s
                   AND (w.location IS NULL OR w.location = (SELECT location FROM host WHERE id = ?))
                 ORDER BY w.location IS NULL, w.created_at
                 LIMIT ?
                """.formatted(which)).params(params).query(UUID.class).list();
        strands.wakeAll(waiting);
        meters.counter("gpucloud.vms.capacity.retries", "cause", cause).increment(waiting.size());
    }
}
