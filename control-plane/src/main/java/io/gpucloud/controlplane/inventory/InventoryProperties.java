package io.gpucloud.controlplane.inventory;

import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The defaults are Kubernetes' node-lease ones (renewed every 10 s, a node is lost after 40 s): every
 * host's heartbeat is a request and a row update, so a 10,000-host fleet beating every 5 s would send
 * the control plane 2,000 of them a second; every 10 s it sends 1,000, and three beats may still be
 * missed before a host counts as unreachable.
 *
 * @param heartbeatTimeout      silence after which a host is unreachable and gets no new placements
 * @param heartbeatInterval     what workers are told to use; well under the timeout
 * @param heartbeatCheckPeriod  how often the control plane looks for silent hosts
 */
@ConfigurationProperties("gpucloud.inventory")
public record InventoryProperties(Duration heartbeatTimeout, Duration heartbeatInterval, Duration heartbeatCheckPeriod) {
    public InventoryProperties {
        if (heartbeatTimeout == null) heartbeatTimeout = Duration.ofSeconds(40);
        if (heartbeatInterval == null) heartbeatInterval = Duration.ofSeconds(10);
        if (heartbeatCheckPeriod == null) heartbeatCheckPeriod = Duration.ofSeconds(2);
        if (!heartbeatInterval.minus(heartbeatTimeout).isNegative()) {
            throw new IllegalArgumentException("gpucloud.inventory.heartbeat-interval (" + heartbeatInterval
                    + ") must be shorter than heartbeat-timeout (" + heartbeatTimeout + ")");
        }
    }
}
