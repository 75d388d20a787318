package io.gpucloud.worker.discovery;

import io.gpucloud.protocol.HostTopology;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.sim.SimulatedHostSpec;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;

/**
 * Times discovery of a simulated HGX H100 host: 8 GPUs bound to nvidia, 224 CPUs, Fabric Manager
 * running, so every discovery reads the whole sysfs tree and parses {@code nvidia-smi -q} and
 * {@code fmpm -l} output. Prints p50/p99/max per discovery, and how long writing one such host takes
 * (the demo and the tests create many).
 *
 * <pre>usage: DiscoveryBenchmark [iterations=500] [warmup=200] [hosts=10]</pre>
 */
public final class DiscoveryBenchmark {

    private DiscoveryBenchmark() {
    }

    public static void main(String[] args) {
        int iterations = args.length > 0 ? Integer.parseInt(args[0]) : 500;
        int warmup = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        int hosts = args.length > 2 ? Integer.parseInt(args[2]) : 10;

        try (SimulatedHost host = SimulatedHost.inTempDirectory(SimulatedHostSpec.hgxH100("bench-h100"))) {
            HostDiscovery discovery = host.discovery();
            Map<String, Integer> known = host.moduleIds();

            HostTopology check = discovery.discover(known);
            if (check.gpuCount() != 8 || check.partitions().size() != 15) {
                throw new IllegalStateException("unexpected topology: " + check.gpuCount() + " GPUs, "
                        + check.partitions().size() + " partitions, problems " + check.problems());
            }
            for (int i = 0; i < warmup; i++) {
                discovery.discover(known);
            }
            double[] ms = new double[iterations];
            for (int i = 0; i < iterations; i++) {
                long start = System.nanoTime();
                discovery.discover(known);
                ms[i] = (System.nanoTime() - start) / 1e6;
            }
            Arrays.sort(ms);
            System.out.printf(Locale.ROOT,
                    "discovery of 8-GPU HGX H100 (%d devices, %d CPUs, nvidia-smi -q + fmpm -l parsed), "
                            + "%d runs after %d warm-up: p50 %.2f ms, p99 %.2f ms, max %.2f ms%n",
                    check.pciDevices().size(), check.cpus().size(), iterations, warmup,
                    ms[(int) Math.floor(0.50 * (iterations - 1))], ms[(int) Math.floor(0.99 * (iterations - 1))],
                    ms[iterations - 1]);
            System.out.printf(Locale.ROOT, "tree written under %s%n", host.root().getParent());
        }
        double[] write = new double[hosts];
        for (int i = 0; i < hosts; i++) {
            long start = System.nanoTime();
            try (SimulatedHost extra = SimulatedHost.inTempDirectory(SimulatedHostSpec.hgxH100("bench-" + i))) {
                write[i] = (System.nanoTime() - start) / 1e6;
            }
        }
        Arrays.sort(write);
        System.out.printf(Locale.ROOT, "materializing one HGX H100 host (%d hosts): median %.1f ms, max %.1f ms%n",
                hosts, write[hosts / 2], write[hosts - 1]);
    }
}
