/**
 * NVIDIA Fabric Manager's partition tool fmpm behind a one-method interface, a simulator that enforces
 * Fabric Manager's partition rules with the real tool's output and exit codes, and an idempotent client.
 */
package io.gpucloud.worker.fabric;
