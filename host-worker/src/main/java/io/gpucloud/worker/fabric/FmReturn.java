package io.gpucloud.worker.fabric;

/**
 * Fabric Manager API return codes (nv_fm_types.h) that matter here. fmpm's {@code main} returns the
 * negative {@code fmReturn_t}, so the shell sees it modulo 256: -17 becomes exit status 239.
 */
final class FmReturn {

    static final int SUCCESS = 0;
    /** Bad argument or a partition id Fabric Manager does not support (also fmpm's own argument errors). */
    static final int BADPARAM = -1;
    /** Old FM: "specified partition is not activated" on deactivate. */
    static final int UNINITIALIZED = -4;
    /** "Resource in use". The simulator's answer to activating a partition that overlaps an active one. */
    static final int IN_USE = -7;
    /** fmConnect could not reach the Fabric Manager daemon. */
    static final int CONNECTION_NOT_VALID = -9;
    /** Partition already active (observed on -a by Ubicloud; makes activation idempotent). */
    static final int PARTITION_ID_IN_USE = -17;
    /** Partition not active (observed on -d; makes deactivation idempotent). */
    static final int PARTITION_ID_NOT_IN_USE = -18;

    private FmReturn() {
    }

    static int exitStatus(int fmReturn) {
        return fmReturn & 0xff;
    }
}
