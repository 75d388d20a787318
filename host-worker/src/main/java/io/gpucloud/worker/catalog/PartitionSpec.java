package io.gpucloud.worker.catalog;

import java.util.List;

/** One built-in fabric partition: Fabric Manager's id and the GPU module ids it joins. */
public record PartitionSpec(int id, List<Integer> modules) {
    public PartitionSpec {
        modules = List.copyOf(modules);
    }

    public int gpuCount() {
        return modules.size();
    }
}
