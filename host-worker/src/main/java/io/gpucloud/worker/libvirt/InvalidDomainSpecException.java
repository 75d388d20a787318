package io.gpucloud.worker.libvirt;

/** The domain spec cannot be rendered as asked (inconsistent NUMA cells, too many devices for a node, ...). */
public final class InvalidDomainSpecException extends Exception {

    private static final long serialVersionUID = 1L;

    public InvalidDomainSpecException(String message) {
        super(message);
    }
}
