package io.gpucloud.placement;

/** {@link HostSnapshot#fabricMode()} parsed; anything unrecognised is {@link #UNKNOWN}. */
public enum FabricMode {
    /** Fabric Manager FABRIC_MODE=1: fabric partitions are the allocation unit. */
    SHARED_NVSWITCH,
    /** FABRIC_MODE=0: the whole board (GPUs, NVSwitches, NICs) goes to one VM. */
    FULL_PASSTHROUGH,
    /** No NVLink fabric (PCIe GPUs): whole IOMMU groups are the allocation unit. */
    NONE,
    UNKNOWN;

    public static FabricMode of(String s) {
        if (s == null) {
            return UNKNOWN;
        }
        switch (s) {
            case "SHARED_NVSWITCH":
                return SHARED_NVSWITCH;
            case "FULL_PASSTHROUGH":
                return FULL_PASSTHROUGH;
            case "NONE":
                return NONE;
            default:
                for (FabricMode m : values()) {
                    if (m.name().equalsIgnoreCase(s.trim())) {
                        return m;
                    }
                }
                return UNKNOWN;
        }
    }
}
