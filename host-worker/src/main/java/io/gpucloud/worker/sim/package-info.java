/**
 * Simulated servers for tests and the demo: a kernel-like sysfs/procfs tree on disk plus nvidia-smi and
 * fmpm simulators over the same hardware, so the production discovery code runs unchanged against them.
 */
package io.gpucloud.worker.sim;
