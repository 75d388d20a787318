/**
 * Runs the control plane's jobs on this host: {@link io.gpucloud.worker.job.JobExecutor} maps each
 * {@code JobKind} to sysfs driver binding, Fabric Manager partitions and libvirt calls in the order
 * DESIGN.md §4 prescribes, records every step, and never throws for hardware failures.
 * {@link io.gpucloud.worker.job.HostActions} wires the touch points for a real server or a
 * {@link io.gpucloud.worker.sim.SimulatedHost}; {@link io.gpucloud.worker.job.Reconciler} reports what the
 * host runs now (domains, active partitions, devices on vfio-pci) for restart reconciliation.
 */
package io.gpucloud.worker.job;
