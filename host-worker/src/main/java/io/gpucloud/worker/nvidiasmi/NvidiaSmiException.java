package io.gpucloud.worker.nvidiasmi;

/** nvidia-smi failed; the message is the tool's own first line of complaint. */
public final class NvidiaSmiException extends Exception {

    /** Exit status nvidia-smi uses when the kernel module is not loaded or not answering. */
    public static final int DRIVER_NOT_LOADED = 9;

    private static final long serialVersionUID = 1L;

    private final int exitCode;

    public NvidiaSmiException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }

    public boolean driverNotLoaded() {
        return exitCode == DRIVER_NOT_LOADED;
    }
}
