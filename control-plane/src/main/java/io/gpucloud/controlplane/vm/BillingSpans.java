package io.gpucloud.controlplane.vm;

import java.util.Set;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * Opens and closes a VM's billing span (resource "vm", quantity 1) as its state changes, in the
 * caller's transaction so the span and the state never disagree.
 *
 * <p>Billing rule: a VM is billed from the moment it is {@code running} until it is
 * {@code deleted} or {@code failed}. A {@code stopped} VM whose instance type keeps its GPUs
 * ({@code keepsGpusWhenStopped}, all GPU types in the catalog) is still billed at its full rate:
 * its GPUs stay reserved for it and cannot be sold to anyone else, so its span stays open while
 * it is stopped. A stopped VM of a type that does not keep its GPUs (CPU-only types) is not billed:
 * its span closes at the stop and a new one opens when it runs again. Transitional states
 * (stopping, starting, rebooting, deleting) leave the span as it is.
 */
@Component
public class BillingSpans {

    static final String RESOURCE = "vm";
    private static final Set<String> ENDS = Set.of("deleted", "failed");

    private final JdbcClient jdbc;
    private final InstanceTypePolicy types;

    public BillingSpans(JdbcClient jdbc, InstanceTypePolicy types) {
        this.jdbc = jdbc;
        this.types = types;
    }

    /** Called with every state a VM is put in. */
    void onState(UUID vmId, String state) {
        if ("running".equals(state)) {
            open(vmId);
        } else if (ENDS.contains(state)) {
            close(vmId);
        } else if ("stopped".equals(state) && !types.keepsGpusWhenStopped(instanceType(vmId))) {
            close(vmId);
        }
    }

    /** Opens a span from now unless one is open already (a GPU VM started again after a stop). */
    private void open(UUID vmId) {
        jdbc.sql("""
                INSERT INTO billing_span (project_id, vm_id, resource, instance_type, location, quantity, period)
                SELECT v.project_id, v.id, ?, v.instance_type, COALESCE(v.location, h.location), 1, tstzrange(now(), NULL)
                  FROM vm v LEFT JOIN host h ON h.id = v.host_id
                 WHERE v.id = ?
                   AND NOT EXISTS (SELECT 1 FROM billing_span b
                                    WHERE b.vm_id = v.id AND b.resource = ? AND upper_inf(b.period))
                """).params(RESOURCE, vmId, RESOURCE).update();
    }

    /** Ends the open span at now; a span that would be empty (opened in this very instant) is dropped. */
    private void close(UUID vmId) {
        jdbc.sql("""
                DELETE FROM billing_span
                 WHERE vm_id = ? AND resource = ? AND upper_inf(period) AND lower(period) >= now()
                """).params(vmId, RESOURCE).update();
        jdbc.sql("""
                UPDATE billing_span SET period = tstzrange(lower(period), now())
                 WHERE vm_id = ? AND resource = ? AND upper_inf(period)
                """).params(vmId, RESOURCE).update();
    }

    private String instanceType(UUID vmId) {
        return jdbc.sql("SELECT instance_type FROM vm WHERE id = ?").param(vmId).query(String.class).single();
    }
}
