package io.gpucloud.placement.filter;

import io.gpucloud.placement.AllocationUnit;
import io.gpucloud.placement.HostFilter;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.NumaPolicy;
import io.gpucloud.placement.PlacementRequest;

import java.util.List;

/**
 * Enough free 1 GiB hugepages for the guest memory (rounded up to whole GiB): on the GPUs' NUMA
 * nodes under {@link NumaPolicy#REQUIRED} (a CPU-only VM: on one node that also has its CPUs),
 * anywhere on the host under PREFERRED. Drops units that cannot be served.
 */
public final class NumaHugepageFilter implements HostFilter {

    public static final String NAME = "numa-hugepages";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean capacity() {
        return true;
    }

    @Override
    public boolean admit(PlacementRequest request, HostView host) {
        long need = request.hugepages1g();
        if (need <= 0) {
            return true;
        }
        if (request.numaPolicy() != NumaPolicy.REQUIRED) {
            return host.totalHugepages() >= need;
        }
        if (request.gpuCount() <= 0) {
            for (int i = 0, n = host.numaNodeCount(); i < n; i++) {
                if (host.hugepages(i) >= need && host.cpuCapacity(i) >= request.vcpus()) {
                    return true;
                }
            }
            return false;
        }
        List<AllocationUnit> units = host.units();
        for (int i = units.size() - 1; i >= 0; i--) {
            AllocationUnit u = units.get(i);
            if (u.unknownNumaNode() || host.hugepages(u.nodeMask()) < need) {
                units.remove(i);
            }
        }
        return !units.isEmpty();
    }

    @Override
    public String explain(PlacementRequest request, int rejectedHosts) {
        String where = request.numaPolicy() == NumaPolicy.REQUIRED
                ? (request.gpuCount() > 0 ? "NUMA-local " : "") : "free ";
        String tail = request.numaPolicy() == NumaPolicy.REQUIRED && request.gpuCount() <= 0
                ? " (with the CPUs) on one NUMA node" : "";
        return rejectedHosts + " lack " + request.hugepages1g() + " " + where + "1 GiB hugepages" + tail;
    }
}
