package io.gpucloud.controlplane.vm;

import io.gpucloud.protocol.job.DomainSpec;
import io.gpucloud.protocol.job.DomainSpec.HostDevice;
import io.gpucloud.protocol.job.DomainSpec.NumaCell;
import io.gpucloud.protocol.job.DomainSpec.VcpuPin;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * What the worker must render, read from what the VM holds: its pinned CPUs (vCPUs numbered node
 * by node so guest cells are contiguous), one guest NUMA cell per host node it draws hugepages
 * from, every PCI function it holds with the switch it sits behind, and the boot disk: the path of
 * the catalog image the VM was created from (null for VMs created without one, e.g. by operators),
 * with the guest-init data (hostname, user data, private address, SSH keys) a cloud-init seed would carry.
 */
@Component
class DomainSpecBuilder {

    private final JdbcClient jdbc;

    DomainSpecBuilder(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    DomainSpec build(UUID vmId, String largeBarMode) {
        record Vm(String name, long memoryMiB, String platform, String bootImage, DomainSpec.GuestInit init) {
        }
        Vm vm = jdbc.sql("""
                SELECT v.name, v.memory_mib, h.platform, v.boot_disk, v.user_data, host(a.address), v.ssh_public_keys
                  FROM vm v JOIN host h ON h.id = v.host_id LEFT JOIN vm_address a ON a.vm_id = v.id
                 WHERE v.id = ?
                """).param(vmId)
                .query((rs, n) -> new Vm(rs.getString(1), rs.getLong(2), rs.getString(3), rs.getString(4),
                        new DomainSpec.GuestInit(rs.getString(1), rs.getString(5), rs.getString(6), 16,
                                Arrays.stream((Object[]) rs.getArray(7).getArray()).map(String::valueOf).toList())))
                .single();
        List<VcpuPin> pins = new ArrayList<>();
        jdbc.sql("""
                SELECT c.cpu_id, c.node_id, c.socket_id, c.core_id
                  FROM vm v JOIN cpu c ON c.host_id = v.host_id AND c.cpu_id = ANY (v.cpu_ids)
                 WHERE v.id = ? ORDER BY c.node_id, c.core_id, c.cpu_id
                """)
                .param(vmId)
                .query(rs -> {
                    pins.add(new VcpuPin(pins.size(), rs.getInt(1), rs.getInt(2), rs.getInt(3), rs.getInt(4)));
                });
        List<NumaCell> cells = new ArrayList<>();
        jdbc.sql("""
                SELECT node_id, hugepages_1g FROM vm_hugepages
                 WHERE host_id = (SELECT host_id FROM vm WHERE id = ?) AND vm_id = ? ORDER BY node_id
                """)
                .params(vmId, vmId)
                .query(rs -> {
                    cells.add(new NumaCell(cells.size(), rs.getInt(1), rs.getInt(2) * 1024L));
                });
        List<HostDevice> devices = jdbc.sql("""
                SELECT bdf, kind, numa_node, switch_bdf, CASE WHEN kind = 'gpu' THEN model END, module_id
                  FROM pci_device WHERE host_id = (SELECT host_id FROM vm WHERE id = ?) AND vm_id = ? ORDER BY bdf
                """).params(vmId, vmId)
                .query((rs, n) -> new HostDevice(rs.getString(1), rs.getString(2), (Integer) rs.getObject(3),
                        rs.getString(4), rs.getString(5), (Integer) rs.getObject(6)))
                .list();
        long memory = cells.stream().mapToLong(NumaCell::memoryMiB).sum();
        return new DomainSpec(vmId, "vm-" + vmId, memory == 0 ? vm.memoryMiB() : memory, pins, cells, devices,
                vm.platform(), vm.bootImage(), largeBarMode, vm.init());
    }
}
