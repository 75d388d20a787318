package io.gpucloud.worker.sim;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Simulated hosts for one test, written to memory where possible and deleted after it. Register with
 * {@code @RegisterExtension final SimulatedHosts hosts = new SimulatedHosts();}.
 */
public final class SimulatedHosts implements AfterEachCallback {

    private final List<SimulatedHost> created = new ArrayList<>();

    public SimulatedHost create(SimulatedHostSpec spec) {
        SimulatedHost host = SimulatedHost.inTempDirectory(spec);
        created.add(host);
        return host;
    }

    @Override
    public void afterEach(ExtensionContext context) {
        created.forEach(SimulatedHost::close);
        created.clear();
    }
}
