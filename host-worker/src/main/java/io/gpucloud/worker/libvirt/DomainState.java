package io.gpucloud.worker.libvirt;

/** A domain's state as libvirt reports it, plus "no such domain". */
public enum DomainState {
    RUNNING,
    /** Blocked on a resource: still running as far as the worker is concerned. */
    BLOCKED,
    PAUSED,
    /** A guest shutdown is in progress. */
    SHUTTING_DOWN,
    SHUT_OFF,
    CRASHED,
    /** libvirt had no state to report. */
    NO_STATE,
    /** No domain with that UUID is defined. */
    NOT_DEFINED;

    /** Whether QEMU runs (and so holds the domain's VFIO groups). */
    public boolean isActive() {
        return this == RUNNING || this == BLOCKED || this == PAUSED || this == SHUTTING_DOWN;
    }

    /** The spelling {@code virsh domstate} uses, for facts and step output. */
    public String virshName() {
        return switch (this) {
            case RUNNING -> "running";
            case BLOCKED -> "idle";
            case PAUSED -> "paused";
            case SHUTTING_DOWN -> "in shutdown";
            case SHUT_OFF -> "shut off";
            case CRASHED -> "crashed";
            case NO_STATE -> "no state";
            case NOT_DEFINED -> "not defined";
        };
    }
}
