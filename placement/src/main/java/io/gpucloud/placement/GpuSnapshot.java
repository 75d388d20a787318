package io.gpucloud.placement;

/**
 * @param deviceId    pci_device row id
 * @param bdf         PCI address
 * @param moduleId    Fabric Manager physical id, null if unknown
 * @param numaNode    NUMA node, null if the kernel did not say
 * @param iommuGroup  IOMMU group; on hosts without a fabric whole groups are the allocation unit
 * @param healthy     health = ok (not suspect, quarantined or missing)
 * @param held        held by a VM
 */
public record GpuSnapshot(long deviceId, String bdf, Integer moduleId, Integer numaNode, Integer iommuGroup,
                          boolean healthy, boolean held) {
}
