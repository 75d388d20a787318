package io.gpucloud.controlplane.vm;

/** What the VM workflow needs to know of the instance-type catalog (kept in the api package). */
public interface InstanceTypePolicy {

    /** Whether a stopped VM of this type keeps its GPUs (and so is still billed); false for unknown types. */
    boolean keepsGpusWhenStopped(String instanceType);
}
