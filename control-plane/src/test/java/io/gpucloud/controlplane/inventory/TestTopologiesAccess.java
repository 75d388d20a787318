package io.gpucloud.controlplane.inventory;

import io.gpucloud.protocol.HostTopology;

/** Lets tests in other packages use the hand-made topologies. */
public final class TestTopologiesAccess {
    private TestTopologiesAccess() {
    }

    public static HostTopology h100(String name) {
        return TestTopologies.hgxH100(name);
    }
}
