package io.gpucloud.worker;

import io.gpucloud.protocol.FabricMode;
import io.gpucloud.worker.agent.ControlPlaneClient;
import io.gpucloud.worker.agent.CredentialStore;
import io.gpucloud.worker.agent.WorkerAgent;
import io.gpucloud.worker.command.RecordedCommands;
import io.gpucloud.worker.discovery.HostDiscovery;
import io.gpucloud.worker.fabric.Fmpm;
import io.gpucloud.worker.job.JobExecutor;
import io.gpucloud.worker.libvirt.BootImageDirectory;
import io.gpucloud.worker.nvidiasmi.NvidiaSmi;
import java.net.URI;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * The host worker on a real server.
 *
 * <pre>
 *   java -jar host-worker-exec.jar --control-plane https://cp.example --bootstrap-token gpc_bootstrap_... \
 *        [--location eu-1] [--state-dir /var/lib/gpucloud-worker] [--root /] [--fabric-mode shared|full]
 *   java -jar host-worker-exec.jar --discover-only [--root /]     # read-only: print the topology as JSON
 *   java -jar host-worker-exec.jar --discover-only --root DIR     # the same for a capture-host.sh capture
 * </pre>
 * Options may also come from the environment: GPUCLOUD_CONTROL_PLANE, GPUCLOUD_BOOTSTRAP_TOKEN,
 * GPUCLOUD_LOCATION, GPUCLOUD_STATE_DIR, GPUCLOUD_IMAGES_DIR (the boot images, default /var/lib/gpucloud/images).
 */
public final class HostWorkerMain {

    private HostWorkerMain() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = parse(args);
        if (opts.containsKey("help")) {
            System.out.println("usage: host-worker --control-plane URL --bootstrap-token TOKEN [--location L] "
                    + "[--state-dir DIR] [--images-dir DIR] [--root /] [--fabric-mode shared|full] | --discover-only [--root /]");
            return;
        }
        Path root = Path.of(opts.getOrDefault("root", "/"));
        NvidiaSmi nvidiaSmi = NvidiaSmi.system();
        Fmpm fmpm = Fmpm.system();
        Optional<RecordedCommands> recorded = opts.containsKey("discover-only") ? RecordedCommands.of(root)
                : Optional.empty();
        if (recorded.isPresent()) {
            // a capture (tools/capture-host.sh): its tools answer as the captured host's did
            System.err.println("replaying the nvidia-smi and fmpm output recorded in " + root.resolve("commands"));
            RecordedCommands commands = recorded.get();
            nvidiaSmi = a -> commands.run("nvidia-smi", a);
            fmpm = a -> commands.run("fmpm", a);
        }
        HostDiscovery discovery = new HostDiscovery(root, nvidiaSmi, fmpm);
        if ("full".equals(opts.get("fabric-mode"))) {
            discovery = discovery.withFabricMode(FabricMode.FULL_PASSTHROUGH);
        }
        if (opts.containsKey("discover-only")) {
            JsonMapper json = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();
            System.out.println(json.writeValueAsString(discovery.discover()));
            return;
        }
        String controlPlane = option(opts, "control-plane", "GPUCLOUD_CONTROL_PLANE", null);
        if (controlPlane == null) {
            System.err.println("--control-plane (or GPUCLOUD_CONTROL_PLANE) is required; see --help");
            System.exit(2);
        }
        Path stateDir = Path.of(option(opts, "state-dir", "GPUCLOUD_STATE_DIR", "/var/lib/gpucloud-worker"));
        HostDiscovery source = discovery;
        WorkerAgent agent = new WorkerAgent(new ControlPlaneClient(URI.create(controlPlane)), source::discover,
                option(opts, "bootstrap-token", "GPUCLOUD_BOOTSTRAP_TOKEN", null),
                option(opts, "location", "GPUCLOUD_LOCATION", "default"),
                new CredentialStore(stateDir.resolve("identity.properties")));
        // fails fast when libvirt (qemu:///system) cannot be opened: a worker that cannot act must not take jobs
        Path images = Path.of(option(opts, "images-dir", "GPUCLOUD_IMAGES_DIR", BootImageDirectory.DEFAULT.toString()))
                .toAbsolutePath().normalize();
        JobExecutor executor = JobExecutor.forThisHost(stateDir, BootImageDirectory.of(images));
        agent.withJobs(executor::execute).withReconcile(() -> executor.reconciler().snapshot().toReport())
                .withBootImages(executor::bootImages);
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            agent.close();
            executor.close();
            stop.countDown();
        }));
        agent.start();
        stop.await();
    }

    private static String option(Map<String, String> opts, String name, String env, String fallback) {
        String v = opts.get(name);
        if (v == null) {
            v = System.getenv(env);
        }
        return v == null || v.isBlank() ? fallback : v;
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> out = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument '" + a + "'; see --help");
            }
            String name = a.substring(2);
            int eq = name.indexOf('=');
            if (eq >= 0) {
                out.put(name.substring(0, eq), name.substring(eq + 1));
            } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
                out.put(name, args[++i]);
            } else {
                out.put(name, "true");
            }
        }
        return out;
    }
}
