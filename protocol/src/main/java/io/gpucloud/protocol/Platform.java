package io.gpucloud.protocol;

/** The kinds of server the control plane knows how to partition and place on. */
public enum Platform {
    HGX_A100_8,
    HGX_A100_16,
    HGX_H100_8,
    HGX_H200_8,
    HGX_B200_8,
    PCIE_GPU,
    NO_GPU
}
