package io.gpucloud.protocol;

public enum DeviceKind {
    GPU,
    NVSWITCH,
    NIC,
    NVME,
    BRIDGE,
    OTHER
}
