package io.gpucloud.worker.catalog;

import io.gpucloud.protocol.DeviceKind;

/**
 * What the catalog knows about a PCI function.
 *
 * @param kind       GPU, NVSwitch, NIC, NVMe or bridge
 * @param model      model name the control plane stores ("H100-SXM5-80GB"), "unknown" for an unlisted NVIDIA GPU,
 *                   null where the class alone identified it
 * @param pcieSwitch true for a known PCIe switch chip (upstream and downstream ports share the id)
 */
public record DeviceType(DeviceKind kind, String model, boolean pcieSwitch) {
}
