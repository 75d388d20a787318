package io.gpucloud.worker.vfio;

import java.util.Locale;

/**
 * The errno values a sysfs write can fail with, and the text {@code strerror} gives them: the JDK reports
 * a failed write(2) as an IOException whose message is exactly that text, which is all we get back.
 */
public enum Errno {
    EPERM("Operation not permitted"),
    ENOENT("No such file or directory"),
    EIO("Input/output error"),
    EACCES("Permission denied"),
    EBUSY("Device or resource busy"),
    EEXIST("File exists"),
    ENODEV("No such device"),
    EINVAL("Invalid argument"),
    ENOTTY("Inappropriate ioctl for device"),
    ENOSPC("No space left on device"),
    /** Anything not listed: the message is kept verbatim. */
    UNKNOWN("Unknown error");

    private final String text;

    Errno(String text) {
        this.text = text;
    }

    /** What strerror prints, e.g. "Device or resource busy". */
    public String text() {
        return text;
    }

    /** The errno whose strerror text the message contains, UNKNOWN when none. */
    public static Errno fromMessage(String message) {
        if (message == null) {
            return UNKNOWN;
        }
        String m = message.toLowerCase(Locale.ROOT);
        for (Errno e : values()) {
            if (e != UNKNOWN && m.contains(e.text.toLowerCase(Locale.ROOT))) {
                return e;
            }
        }
        return UNKNOWN;
    }
}
