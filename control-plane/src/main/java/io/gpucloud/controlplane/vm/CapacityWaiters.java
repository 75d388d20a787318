package io.gpucloud.controlplane.vm;

import io.gpucloud.controlplane.inventory.HostRegistry;
import io.gpucloud.controlplane.workflow.StrandStore;
import java.util.List;
import java.util.UUID;
import org.springframework.context.event.EventListener;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * VMs that wait for capacity ({@code pending} at {@code wait_for_capacity}) try again with backoff,
 * up to a minute apart. When capacity appears (a VM is deleted, a host becomes ready) the ones that
 * could use it try again as soon as that commits instead. Not all of them: as many as there are GPUs
 * to take, at least one, because waking every waiting VM would only have most of them fail again.
 * Those that asked for the host's location come first (fewer hosts fit them), then the longest waiting.
 */
@Component
public class CapacityWaiters {

    private final JdbcClient jdbc;
    private final StrandStore strands;

    public CapacityWaiters(JdbcClient jdbc, StrandStore strands) {
        this.jdbc = jdbc;
        this.strands = strands;
    }

    /** {@code vmId}, released in this transaction, gave back what it held on {@code hostId}. */
    void freed(UUID hostId, UUID vmId) {
        var vm = jdbc.sql("SELECT gpu_model, gpu_count FROM vm WHERE id = ?").param(vmId)
                .query((rs, n) -> new Object[] {rs.getString(1), rs.getInt(2)}).single();
        wake(hostId, "w.gpu_model IS NOT DISTINCT FROM ?", (String) vm[0], (int) vm[1]);
    }

    /** A host became ready: its free GPUs to VMs of its model, its CPUs to GPU-less VMs. */
    @EventListener
    void hostReady(HostRegistry.HostReady event) {
        var host = jdbc.sql("SELECT gpu_model, total_gpus - used_gpus FROM host WHERE id = ?").param(event.hostId())
                .query((rs, n) -> new Object[] {rs.getString(1), rs.getInt(2)}).optional();
        host.ifPresent(h -> wake(event.hostId(), "(w.gpu_model IS NULL OR w.gpu_model = ?)", (String) h[0],
                (int) h[1]));
    }

    private void wake(UUID hostId, String sameModel, String gpuModel, int count) {
        List<UUID> waiting = jdbc.sql("""
                SELECT (w.placement->>'strandId')::uuid FROM vm w
                 WHERE w.state = 'pending' AND w.placement->>'strandId' IS NOT NULL AND %s
                   AND (w.location IS NULL OR w.location = (SELECT location FROM host WHERE id = ?))
                 ORDER BY w.location IS NULL, w.created_at
                 LIMIT ?
                """.formatted(sameModel)).params(gpuModel, hostId, Math.max(1, count)).query(UUID.class).list();
        strands.wakeAll(waiting);
    }
}
