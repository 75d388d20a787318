/**
 * nvidia-smi behind a one-method interface, its simulator, and the module-id parser that serves both.
 * Module ids must come from the hardware: they are not in PCI order.
 */
package io.gpucloud.worker.nvidiasmi;
