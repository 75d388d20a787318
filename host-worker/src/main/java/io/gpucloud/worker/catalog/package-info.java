/**
 * What the worker knows about hardware, kept as data on the classpath ({@code /catalog/*.json}): PCI ids,
 * which GPUs and NVSwitches make which board, and each board's default fabric partitions. A new device id
 * or board revision is a data change, never an {@code if}.
 */
package io.gpucloud.worker.catalog;
