package io.gpucloud.worker.libvirt;

/** libvirt refused a call; the message is libvirt's own, {@link #code()} its error number name. */
public final class HypervisorException extends Exception {

    private static final long serialVersionUID = 1L;

    private final String code;

    public HypervisorException(String code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    /** libvirt's error number ("VIR_ERR_XML_ERROR", "VIR_ERR_OPERATION_FAILED", ...). */
    public String code() {
        return code;
    }
}
