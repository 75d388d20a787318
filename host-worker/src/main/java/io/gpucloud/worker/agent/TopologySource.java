package io.gpucloud.worker.agent;

import io.gpucloud.protocol.HostTopology;
import java.util.Map;

/** Runs discovery; {@code knownModuleIds} are ids the control plane persisted (BDF → module id). */
@FunctionalInterface
public interface TopologySource {
    HostTopology discover(Map<String, Integer> knownModuleIds);
}
