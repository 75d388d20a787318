package io.gpucloud.worker.libvirt;

/** A disk or seed image could not be made; carries the command an operator would run and what it said. */
public final class GuestImageException extends Exception {

    private final String command;
    private final int exitCode;

    public GuestImageException(String message, String command, int exitCode) {
        super(message);
        this.command = command;
        this.exitCode = exitCode;
    }

    public String command() {
        return command;
    }

    public int exitCode() {
        return exitCode;
    }
}
