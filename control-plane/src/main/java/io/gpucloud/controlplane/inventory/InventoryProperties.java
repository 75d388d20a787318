package io.gpucloud.controlplane.inventory;

import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * @param heartbeatTimeout      silence after which a host is unreachable and gets no new placements
 * @param heartbeatInterval     what workers are told to use; well under the timeout
 * @param heartbeatCheckPeriod  how often the control plane looks for silent hosts
 */
@ConfigurationProperties("gpucloud.inventory")
public record InventoryProperties(Duration heartbeatTimeout, Duration heartbeatInterval, Duration heartbeatCheckPeriod) {
    public InventoryProperties {
        if (heartbeatTimeout == null) heartbeatTimeout = Duration.ofSeconds(30);
        if (heartbeatInterval == null) heartbeatInterval = Duration.ofSeconds(5);
        if (heartbeatCheckPeriod == null) heartbeatCheckPeriod = Duration.ofSeconds(2);
        if (!heartbeatInterval.minus(heartbeatTimeout).isNegative()) {
            throw new IllegalArgumentException("gpucloud.inventory.heartbeat-interval (" + heartbeatInterval
                    + ") must be shorter than heartbeat-timeout (" + heartbeatTimeout + ")");
        }
    }
}
