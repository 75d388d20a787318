package io.gpucloud.controlplane.workflow;

import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * @param enabled       run dispatchers in this instance (several instances may share one database)
 * @param threads       labels run concurrently by this instance
 * @param pollInterval  how often idle dispatchers look for due strands without a NOTIFY
 * @param lease         how long a dispatcher owns a strand it took; an instance that dies loses it after this
 * @param stuckAfter    a strand whose label has been current this long is reported stuck, unless its prog
 *                      rests there by design ({@link Prog#restingLabels()})
 * @param maxBackoff    ceiling of the exponential backoff after a label throws
 */
@ConfigurationProperties("gpucloud.workflow")
public record WorkflowProperties(Boolean enabled, Integer threads, Duration pollInterval, Duration lease,
                                 Duration stuckAfter, Duration maxBackoff) {
    public WorkflowProperties {
        if (enabled == null) enabled = true;
        if (threads == null) threads = 4;
        if (pollInterval == null) pollInterval = Duration.ofSeconds(1);
        if (lease == null) lease = Duration.ofSeconds(60);
        if (stuckAfter == null) stuckAfter = Duration.ofMinutes(10);
        if (maxBackoff == null) maxBackoff = Duration.ofMinutes(5);
    }
}
