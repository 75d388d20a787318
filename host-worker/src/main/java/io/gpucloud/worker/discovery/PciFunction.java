package io.gpucloud.worker.discovery;

import io.gpucloud.worker.catalog.DeviceType;
import java.nio.file.Path;
import java.util.List;

/**
 * One PCI function as first seen on the bus: identity and place in the tree, before the slower
 * per-device files are read.
 *
 * @param ancestors BDFs of the functions above it, root port first (from its sysfs device path)
 * @param type      catalog classification, null when the catalog does not know it
 */
record PciFunction(String bdf, String vendor, String device, String classCode, Path dir, List<String> ancestors,
                   DeviceType type) {

    boolean isBridge() {
        return classCode.startsWith("0604");
    }
}
