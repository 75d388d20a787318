package io.gpucloud.controlplane.vm;

import io.gpucloud.controlplane.gateway.HostStateReconciler;
import io.gpucloud.controlplane.workflow.StrandStore;
import io.gpucloud.protocol.DiscoveryProblem;
import io.gpucloud.protocol.HostStateReport;
import io.gpucloud.protocol.ReconcileResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;
import tools.jackson.databind.json.JsonMapper;

/**
 * Restart reconciliation (DESIGN.md §4: "after a host reboot FM partition state is gone"). A worker
 * that (re)registered reports what its host runs; for each VM the database places there and that is
 * running or stopped, anything missing (partition inactive, a device off vfio-pci, domain undefined,
 * or not running though it should) raises "restore" on the VM's workflow, whose jobs go through the
 * normal queue and show in the VM's timeline. Domains and active partitions no live VM owns are
 * orphans: logged, kept on the host's problem list and in the audit log, and never touched.
 */
@Service
class HostRestore implements HostStateReconciler {

    private static final Logger log = LoggerFactory.getLogger(HostRestore.class);
    private static final Set<String> ORPHAN_CODES = Set.of("orphan-domain", "orphan-partition");

    private final JdbcClient jdbc;
    private final StrandStore strands;
    private final JsonMapper json;

    HostRestore(JdbcClient jdbc, StrandStore strands, JsonMapper json) {
        this.jdbc = jdbc;
        this.strands = strands;
        this.json = json;
    }

    /** A VM the database places on the host, with what it holds there. */
    private record PlacedVm(UUID id, String state, UUID strandId, String label, Integer partitionId,
                            List<String> bdfs) {
        boolean shouldRun() {
            return state.equals("running") || state.equals("unknown");
        }
    }

    @Override
    @Transactional
    public ReconcileResponse reconcile(UUID hostId, HostStateReport report) {
        List<PlacedVm> vms = placedVms(hostId);
        Map<UUID, HostStateReport.Domain> domains = report.domains().stream()
                .collect(Collectors.toMap(HostStateReport.Domain::uuid, Function.identity(), (a, b) -> a));
        Set<String> onVfio = new HashSet<>(report.devicesOnVfio());

        List<UUID> restoring = new ArrayList<>();
        for (PlacedVm vm : vms) {
            String missing = missing(vm, domains.get(vm.id()), report.activePartitions(), onVfio);
            if (missing == null) {
                continue;
            }
            // Only a settled workflow takes the signal; one mid-way (provisioning, stopping, deleting)
            // sends its own idempotent steps and must not be interleaved with a restore.
            if (vm.strandId() == null || !Set.of("running", "stopped").contains(vm.label())) {
                log.info("VM {} on host {} is missing {} but its workflow is at {}; leaving it to that",
                        vm.id(), hostId, missing, vm.label());
                continue;
            }
            log.info("Restoring VM {} on host {}: {}", vm.id(), hostId, missing);
            strands.signal(vm.strandId(), "restore");
            restoring.add(vm.id());
        }

        List<DiscoveryProblem> orphans = orphans(hostId, report, vms);
        for (DiscoveryProblem o : orphans) {
            log.warn("Host {}: {} {} — {}", hostId, o.code(), o.subject(), o.message());
        }
        replaceOrphanProblems(hostId, orphans);
        if (!restoring.isEmpty() || !orphans.isEmpty() || !report.problems().isEmpty()) {
            audit(hostId, restoring, orphans, report.problems());
        }
        return new ReconcileResponse(restoring, orphans);
    }

    /** What of the VM's host state is gone, in words; null when nothing is. */
    private static String missing(PlacedVm vm, HostStateReport.Domain domain, List<Integer> activePartitions,
                                  Set<String> onVfio) {
        List<String> gone = new ArrayList<>();
        // unknown partition state (fmpm could not answer) is not evidence of loss
        if (vm.partitionId() != null && activePartitions != null && !activePartitions.contains(vm.partitionId())) {
            gone.add("partition " + vm.partitionId() + " inactive");
        }
        List<String> offVfio = vm.bdfs().stream().filter(b -> !onVfio.contains(b)).toList();
        if (!offVfio.isEmpty()) {
            gone.add(offVfio.size() + " devices off vfio-pci");
        }
        if (domain == null) {
            gone.add("domain not defined");
        } else if (vm.shouldRun() && !domain.active()) {
            gone.add("domain " + domain.state());
        }
        return gone.isEmpty() ? null : String.join(", ", gone);
    }

    private List<DiscoveryProblem> orphans(UUID hostId, HostStateReport report, List<PlacedVm> vms) {
        Set<UUID> owned = vms.stream().map(PlacedVm::id).collect(Collectors.toSet());
        List<DiscoveryProblem> orphans = new ArrayList<>();
        for (HostStateReport.Domain d : report.domains()) {
            if (!owned.contains(d.uuid())) {
                orphans.add(DiscoveryProblem.warning("orphan-domain", d.uuid().toString(), "libvirt domain '"
                        + d.name() + "' (" + d.state() + ") belongs to no live VM on this host; left alone"));
            }
        }
        if (report.activePartitions() != null) {
            Set<Integer> held = new HashSet<>(jdbc.sql(
                    "SELECT partition_id FROM gpu_partition WHERE host_id = ? AND vm_id IS NOT NULL")
                    .param(hostId).query(Integer.class).list());
            for (int p : report.activePartitions()) {
                if (!held.contains(p)) {
                    orphans.add(DiscoveryProblem.warning("orphan-partition", String.valueOf(p), "fabric partition "
                            + p + " is active but no VM holds it; left alone (it blocks overlapping partitions)"));
                }
            }
        }
        return orphans;
    }

    private List<PlacedVm> placedVms(UUID hostId) {
        return jdbc.sql("""
                SELECT v.id, v.state, s.id AS strand_id, s.label,
                       (SELECT partition_id FROM gpu_partition p WHERE p.host_id = v.host_id AND p.vm_id = v.id) AS partition_id,
                       ARRAY(SELECT bdf FROM pci_device d WHERE d.host_id = v.host_id AND d.vm_id = v.id ORDER BY bdf) AS bdfs
                  FROM vm v LEFT JOIN strand s ON s.id = (v.placement->>'strandId')::uuid AND s.exitval IS NULL
                 WHERE v.id IN (SELECT vm_id FROM vms_placed_on(?)) AND v.state NOT IN ('deleted', 'failed')
                """).param(hostId)
                .query((rs, n) -> new PlacedVm(rs.getObject("id", UUID.class), rs.getString("state"),
                        rs.getObject("strand_id", UUID.class), rs.getString("label"),
                        (Integer) rs.getObject("partition_id"),
                        Arrays.stream((Object[]) rs.getArray("bdfs").getArray()).map(String::valueOf).toList()))
                .list();
    }

    // The problem list also carries discovery problems from topology reports; only orphans are ours to replace.
    private void replaceOrphanProblems(UUID hostId, List<DiscoveryProblem> orphans) {
        jdbc.sql("""
                UPDATE host SET problems = coalesce((SELECT jsonb_agg(p) FROM jsonb_array_elements(problems) p
                                                     WHERE NOT (p->>'code' = ANY (?))), '[]'::jsonb) || ?::jsonb
                 WHERE id = ?
                """).params(ORPHAN_CODES.toArray(String[]::new), json.writeValueAsString(orphans), hostId).update();
    }

    private void audit(UUID hostId, List<UUID> restoring, List<DiscoveryProblem> orphans, List<String> problems) {
        Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("restoring", restoring);
        detail.put("orphans", orphans);
        detail.put("problems", problems);
        jdbc.sql("""
                INSERT INTO audit_event (actor, action, target_type, target_id, result, detail)
                VALUES (?, 'host.reconcile', 'host', ?, ?, ?::jsonb)
                """).params("host:" + hostId, hostId.toString(), orphans.isEmpty() ? "ok" : "orphans-found",
                json.writeValueAsString(detail)).update();
    }
}
