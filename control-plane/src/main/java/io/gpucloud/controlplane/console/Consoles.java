package io.gpucloud.controlplane.console;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * Formatting shared by the console's pages, exposed to templates as {@code @consoles}. Times are
 * shown in UTC, the zone of invoices and reports, so operators in different places agree.
 */
@org.springframework.stereotype.Component("consoles")
public class Consoles {

    static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'").withZone(ZoneOffset.UTC);

    /** The last part of a path: a boot image by its file name, its full path in the title. */
    public String fileName(String path) {
        return path == null ? "–" : path.substring(path.lastIndexOf('/') + 1);
    }

    public String time(Instant at) {
        return at == null ? "–" : TIME.format(at);
    }

    /** "12 s ago", "5 min ago", "3 h ago", "2 d ago" */
    public String ago(Instant at) {
        if (at == null) {
            return "never";
        }
        long s = Math.max(0, Duration.between(at, Instant.now()).getSeconds());
        if (s < 90) return s + " s ago";
        if (s < 90 * 60) return (s / 60) + " min ago";
        if (s < 36 * 3600) return (s / 3600) + " h ago";
        return (s / 86400) + " d ago";
    }

    /** "1.2 s", "350 ms" */
    public String millis(Long ms) {
        if (ms == null) return "–";
        return ms < 1000 ? ms + " ms" : String.format(java.util.Locale.ROOT, "%.1f s", ms / 1000.0);
    }

    public String mib(Long mib) {
        if (mib == null) return "–";
        return mib >= 1024 ? String.format(java.util.Locale.ROOT, "%.0f GiB", mib / 1024.0) : mib + " MiB";
    }
}
