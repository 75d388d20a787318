package io.gpucloud.placement.filter;

import io.gpucloud.placement.AllocationUnit;
import io.gpucloud.placement.HostFilter;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.NumaPolicy;
import io.gpucloud.placement.PlacementRequest;

import java.util.List;

/**
 * Enough free logical CPUs (with dedicatedCores: enough whole free cores, all hyperthread
 * siblings free). Under {@link NumaPolicy#REQUIRED} only the NUMA nodes of the unit's GPUs count
 * (a CPU-only VM must fit on one node; a GPU with an unknown node on a multi-node host cannot be
 * honoured, as in Nova); under PREFERRED the whole host counts. Drops units that cannot be served.
 */
public final class NumaCpuFilter implements HostFilter {

    public static final String NAME = "numa-cpus";

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
        int need = request.vcpus();
        if (need <= 0) {
            return true;
        }
        if (request.numaPolicy() != NumaPolicy.REQUIRED) {
            return host.totalCpuCapacity() >= need;
        }
        if (request.gpuCount() <= 0) {
            for (int i = 0, n = host.numaNodeCount(); i < n; i++) {
                if (host.cpuCapacity(i) >= need) {
                    return true;
                }
            }
            return false;
        }
        List<AllocationUnit> units = host.units();
        for (int i = units.size() - 1; i >= 0; i--) {
            AllocationUnit u = units.get(i);
            if (u.unknownNumaNode() || host.cpuCapacity(u.nodeMask()) < need) {
                units.remove(i);
            }
        }
        return !units.isEmpty();
    }

    @Override
    public String explain(PlacementRequest request, int rejectedHosts) {
        String where = request.numaPolicy() == NumaPolicy.REQUIRED
                ? (request.gpuCount() > 0 ? " NUMA-local" : " free on one NUMA node") : " free";
        String cpus = request.numaPolicy() == NumaPolicy.REQUIRED && request.gpuCount() <= 0
                ? request.vcpus() + " CPUs" + where : request.vcpus() + where + " CPUs";
        return rejectedHosts + " lack " + cpus + (request.dedicatedCores() ? " in whole cores" : "");
    }
}
