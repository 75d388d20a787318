package io.gpucloud.controlplane.inventory;

import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/** Turns silence into state: hosts not heard within the timeout become unreachable. */
@Component
class HeartbeatMonitor {

    private final HostRegistry registry;

    HeartbeatMonitor(HostRegistry registry) {
        this.registry = registry;
    }

    @Scheduled(fixedDelayString = "${gpucloud.inventory.heartbeat-check-period:2s}")
    void check() {
        registry.markSilentHostsUnreachable();
    }
}
