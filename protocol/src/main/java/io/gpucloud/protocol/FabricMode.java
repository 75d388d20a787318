package io.gpucloud.protocol;

/** How an NVSwitch fabric is shared between VMs (Fabric Manager's FABRIC_MODE). */
public enum FabricMode {
    /** FABRIC_MODE=1: Fabric Manager on the host (or a service VM) activates partitions per VM. */
    SHARED_NVSWITCH,
    /** FABRIC_MODE=0: the whole board, NVSwitches included, goes to one VM. */
    FULL_PASSTHROUGH,
    /** No NVSwitch fabric (PCIe GPU host or no GPU). */
    NONE
}
