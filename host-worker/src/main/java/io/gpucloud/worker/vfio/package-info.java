/**
 * Moving PCI functions between host drivers and vfio-pci through sysfs, and resetting them. All sysfs
 * access goes through {@link io.gpucloud.worker.vfio.Sysfs}: on a server that is the kernel's files
 * ({@link io.gpucloud.worker.vfio.LinuxSysfs}); on a simulated host it is a small kernel that reacts to
 * writes as Linux does ({@code io.gpucloud.worker.sim.SimulatedKernel}), so
 * {@link io.gpucloud.worker.vfio.PciDriverBinder} runs unchanged against both.
 */
package io.gpucloud.worker.vfio;
