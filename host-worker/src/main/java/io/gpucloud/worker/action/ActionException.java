package io.gpucloud.worker.action;

/**
 * A hardware action that did not reach its goal. The failing step is already in the {@link StepLog};
 * this carries the stable {@link ErrorCodes error code} and a sentence for humans.
 */
public final class ActionException extends Exception {

    private static final long serialVersionUID = 1L;

    private final String errorCode;

    public ActionException(String errorCode, String message) {
        super(message);
        this.errorCode = errorCode;
    }

    public ActionException(String errorCode, String message, Throwable cause) {
        super(message, cause);
        this.errorCode = errorCode;
    }

    public String errorCode() {
        return errorCode;
    }
}
