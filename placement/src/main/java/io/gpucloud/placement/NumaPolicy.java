package io.gpucloud.placement;

/** PCI-NUMA affinity, as in OpenStack Nova: fail rather than cross, or cross only when needed. */
public enum NumaPolicy {
    REQUIRED,
    PREFERRED
}
