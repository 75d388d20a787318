package io.gpucloud.worker.vfio;

import java.io.IOException;

/** The kernel refused a sysfs write; {@link #errno()} says how, the message says it as the shell would. */
public final class SysfsWriteException extends IOException {

    private static final long serialVersionUID = 1L;

    private final String path;
    private final String value;
    private final Errno errno;
    private final String detail;

    /**
     * @param path   the sysfs path as seen on the host ("/sys/bus/pci/drivers_probe")
     * @param detail strerror text, or the JDK's message when it is not a known errno
     */
    public SysfsWriteException(String path, String value, Errno errno, String detail) {
        super("write error: " + path + ": " + detail);
        this.path = path;
        this.value = value;
        this.errno = errno;
        this.detail = detail;
    }

    public SysfsWriteException(String path, String value, Errno errno) {
        this(path, value, errno, errno.text());
    }

    public String path() {
        return path;
    }

    public String value() {
        return value;
    }

    public Errno errno() {
        return errno;
    }

    /** "Device or resource busy": what {@code echo} would print after the colon. */
    public String detail() {
        return detail;
    }
}
