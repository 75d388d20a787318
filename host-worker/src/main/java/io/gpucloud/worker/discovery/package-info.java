/**
 * Host discovery from sysfs/procfs below a configurable root. Entry point:
 * {@link io.gpucloud.worker.discovery.HostDiscovery}; {@link io.gpucloud.worker.discovery.DiscoveryBenchmark}
 * times it on a simulated HGX H100.
 */
package io.gpucloud.worker.discovery;
