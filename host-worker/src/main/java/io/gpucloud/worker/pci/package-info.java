/** PCI addresses normalized once, because the kernel, nvidia-smi and Fabric Manager each print them differently. */
package io.gpucloud.worker.pci;
