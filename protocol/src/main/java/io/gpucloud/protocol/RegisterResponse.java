package io.gpucloud.protocol;

import java.util.Map;
import java.util.UUID;

/**
 * @param hostId                    the host's identity in the control plane
 * @param credential                the worker's own bearer credential; shown only here, stored hashed
 * @param heartbeatIntervalSeconds  how often the control plane expects a heartbeat
 * @param knownModuleIds            module ids the control plane persisted earlier, by GPU BDF; lets a
 *                                  worker whose GPUs sit on vfio-pci (nvidia-smi blind) still map partitions
 */
public record RegisterResponse(UUID hostId, String credential, int heartbeatIntervalSeconds,
                               Map<String, Integer> knownModuleIds) {
}
