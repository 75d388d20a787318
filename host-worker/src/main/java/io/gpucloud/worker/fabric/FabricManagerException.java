package io.gpucloud.worker.fabric;

/** A Fabric Manager call that did not do what was asked, classified for the caller's retry policy. */
public final class FabricManagerException extends Exception {

    public enum Reason {
        /** No fmpm binary: Fabric Manager runs elsewhere (e.g. a service VM) or is not installed. */
        NOT_INSTALLED,
        /** fmpm could not reach the Fabric Manager daemon (stopped, still starting, restarting). */
        NOT_RUNNING,
        /** Fabric Manager does not list this partition (unknown id, or it holds a missing GPU). */
        PARTITION_UNKNOWN,
        /** An overlapping partition is active: another VM holds some of these GPUs. */
        PARTITION_CONFLICT,
        /** fmpm answered something this client cannot read. */
        BAD_OUTPUT,
        /** Anything else Fabric Manager refused; see the message and exit status. */
        FAILED
    }

    private static final long serialVersionUID = 1L;

    private final Reason reason;
    private final int exitCode;

    public FabricManagerException(Reason reason, int exitCode, String message) {
        super(message);
        this.reason = reason;
        this.exitCode = exitCode;
    }

    public Reason reason() {
        return reason;
    }

    /** fmpm's exit status (the negative fmReturn_t modulo 256); 127 when it could not be started. */
    public int exitCode() {
        return exitCode;
    }
}
