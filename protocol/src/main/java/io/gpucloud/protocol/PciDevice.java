package io.gpucloud.protocol;

import java.util.List;

/**
 * One PCI function as the kernel exposes it.
 *
 * @param bdf          full address with domain, e.g. "0000:18:00.0"
 * @param vendorId     4 hex digits, lower case ("10de")
 * @param deviceId     4 hex digits, lower case ("2330")
 * @param classCode    6 hex digits ("030200")
 * @param kind         what the catalog says it is
 * @param model        catalog model name, "unknown" for an unlisted NVIDIA 3D controller, else null
 * @param numaNode     NUMA node, null when the kernel says -1
 * @param iommuGroup   IOMMU group number, null when the IOMMU is off
 * @param parentBdf    the bridge directly above the function, null at a root bus
 * @param switchBdf    upstream port of the nearest PCIe switch above it, null if not behind a switch
 * @param rootPortBdf  root port the function hangs from, null at a root bus
 * @param driver       bound driver name ("nvidia", "vfio-pci", ...) or null
 * @param moduleId     GPU module (physical) id from nvidia-smi, null when unknown
 * @param barSizes     sizes in bytes of the populated BARs, in BAR order
 */
public record PciDevice(
        String bdf,
        String vendorId,
        String deviceId,
        String classCode,
        DeviceKind kind,
        String model,
        Integer numaNode,
        Integer iommuGroup,
        String parentBdf,
        String switchBdf,
        String rootPortBdf,
        String driver,
        Integer moduleId,
        List<Long> barSizes) {

    public PciDevice {
        barSizes = barSizes == null ? List.of() : List.copyOf(barSizes);
    }

    public PciDevice withModuleId(Integer newModuleId) {
        return new PciDevice(bdf, vendorId, deviceId, classCode, kind, model, numaNode, iommuGroup, parentBdf,
                switchBdf, rootPortBdf, driver, newModuleId, barSizes);
    }
}
