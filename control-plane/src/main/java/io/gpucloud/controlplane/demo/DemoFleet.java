package io.gpucloud.controlplane.demo;

import io.gpucloud.controlplane.api.BootImages;
import io.gpucloud.controlplane.tenancy.Projects;
import io.gpucloud.controlplane.tenancy.TokenService;
import io.gpucloud.controlplane.tenancy.Tokens;
import io.gpucloud.controlplane.tenancy.Users;
import io.gpucloud.worker.agent.ControlPlaneClient;
import io.gpucloud.worker.agent.CredentialStore;
import io.gpucloud.worker.agent.WorkerAgent;
import io.gpucloud.worker.job.JobExecutor;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.sim.SimulatedHostSpec;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.annotation.Profile;
import org.springframework.context.event.EventListener;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * The demo profile's fleet: four simulated HGX servers (2 x H100, 1 x H200, 1 x B200), each a
 * sysfs tree on disk with simulated nvidia-smi and Fabric Manager, driven by the real host-worker
 * code talking HTTP to this control plane exactly like a remote worker would.
 */
@Component
@Profile("demo")
class DemoFleet implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DemoFleet.class);

    static final List<SimulatedHostSpec> HOSTS = List.of(
            SimulatedHostSpec.hgxH100("demo-h100-1"),
            SimulatedHostSpec.hgxH100("demo-h100-2"),
            SimulatedHostSpec.hgxH200("demo-h200-1"),
            SimulatedHostSpec.hgxB200("demo-b200-1"));

    // what a catalog image's file on a demo host claims as its disk size (the file itself is a few KiB)
    private static final long DEMO_IMAGE_BYTES = 20L << 30;

    private final BootImages bootImages;
    private final TokenService tokens;
    private final Projects projects;
    private final Users users;
    private final String adminPassword;
    private final String userPassword;
    private final JdbcClient jdbc;
    private final Path dataDir;
    private final String adminToken;
    private final String projectToken;
    private final List<WorkerAgent> agents = new ArrayList<>();
    private final List<SimulatedHost> hosts = new ArrayList<>();
    private final List<JobExecutor> executors = new ArrayList<>();

    DemoFleet(BootImages bootImages, TokenService tokens, Projects projects, Users users, JdbcClient jdbc,
              @Value("${DEMO_ADMIN_PASSWORD:}") String adminPassword,
              @Value("${DEMO_USER_PASSWORD:}") String userPassword,
              @Value("${gpucloud.data-dir:./data}") String dataDir,
              @Value("${DEMO_ADMIN_TOKEN:}") String adminToken,
              @Value("${DEMO_PROJECT_TOKEN:}") String projectToken) {
        this.bootImages = bootImages;
        this.tokens = tokens;
        this.projects = projects;
        this.users = users;
        this.adminPassword = adminPassword;
        this.userPassword = userPassword;
        this.jdbc = jdbc;
        this.dataDir = Path.of(dataDir).toAbsolutePath();
        this.adminToken = adminToken;
        this.projectToken = projectToken;
    }

    @EventListener(ApplicationReadyEvent.class)
    void start(ApplicationReadyEvent event) throws IOException, io.gpucloud.worker.libvirt.HypervisorException {
        int port = ((WebServerApplicationContext) event.getApplicationContext()).getWebServer().getPort();
        UUID demoProject = projects.ensureProject("demo", "demo");
        installTokens(demoProject);
        installUsers();

        String bootstrap = tokens.issueBootstrapToken("demo-fleet",
                Instant.now().plus(1, ChronoUnit.HOURS)).token();
        ControlPlaneClient client = new ControlPlaneClient(URI.create("http://127.0.0.1:" + port + "/"));
        for (SimulatedHostSpec spec : HOSTS) {
            Path hostDir = dataDir.resolve("demo-hosts").resolve(spec.hostName());
            // Each start is a fresh boot of the simulated server: a new sysfs tree, Fabric Manager
            // with nothing active. The worker's saved identity survives, as on a real host.
            Path root = hostDir.resolve("root");
            io.gpucloud.worker.FileTrees.deleteTree(root);
            SimulatedHost host = SimulatedHost.materialize(spec, root);
            for (BootImages.BootImage image : bootImages.all()) {
                host.putBootImage(image.diskPath(), DEMO_IMAGE_BYTES);
            }
            hosts.add(host);
            JobExecutor executor = JobExecutor.forSimulatedHost(host, hostDir.resolve("state"));
            executors.add(executor);
            WorkerAgent agent = new WorkerAgent(client, host::discover, bootstrap, "demo-1",
                    new CredentialStore(hostDir.resolve("worker-identity.properties")));
            // a demo start is a reboot of each simulated server: the reconcile report restores its VMs
            agent.withJobs(executor::execute).withReconcile(() -> executor.reconciler().snapshot().toReport())
                    .withBootImages(executor::bootImages);
            agent.start();
            agents.add(agent);
        }
        log.info("Demo fleet: {} simulated hosts under {} are registering with http://127.0.0.1:{}",
                HOSTS.size(), dataDir.resolve("demo-hosts"), port);
    }

    private void installTokens(UUID demoProject) {
        if (!adminToken.isBlank()) {
            tokens.installKnownToken("admin", "demo-admin (DEMO_ADMIN_TOKEN)", null, adminToken);
        } else {
            revokeGenerated("demo-admin (generated)");
            log.warn("Demo admin token (shown once; set DEMO_ADMIN_TOKEN to choose your own): {}",
                    tokens.issueAdminToken("demo-admin (generated)").token());
        }
        if (!projectToken.isBlank()) {
            tokens.installKnownToken("project", "demo-project (DEMO_PROJECT_TOKEN)", demoProject, projectToken);
        } else {
            revokeGenerated("demo-project (generated)");
            log.warn("Demo project token for project 'demo' (shown once; set DEMO_PROJECT_TOKEN to choose): {}",
                    tokens.issueProjectToken("demo-project (generated)", demoProject).token());
        }
    }

    /** An operator and a customer (owner of tenant demo) who can sign in to the console. */
    private void installUsers() {
        installUser("admin@demo.local", "Demo operator", "admin", null, adminPassword, "DEMO_ADMIN_PASSWORD");
        installUser("owner@demo.local", "Demo customer", "owner", "demo", userPassword, "DEMO_USER_PASSWORD");
    }

    private void installUser(String email, String name, String role, String tenant, String configured, String env) {
        String password = configured.isBlank() ? Tokens.password(20) : configured;
        var existing = users.findByEmail(email);
        if (existing.isPresent()) {
            users.setPassword(existing.get().id(), password);
        } else {
            users.create(email, name, password, role, tenant);
        }
        if (configured.isBlank()) {
            log.warn("Demo console user {} ({}) password (shown once; set {} to choose): {}", email, role, env, password);
        }
    }

    // A restart prints fresh tokens; the ones printed before stop working instead of piling up.
    private void revokeGenerated(String name) {
        jdbc.sql("UPDATE api_token SET revoked_at = now() WHERE name = ? AND revoked_at IS NULL").param(name).update();
    }

    /** The simulated servers, for tests and for later slices that act on them. */
    List<SimulatedHost> hosts() {
        return List.copyOf(hosts);
    }

    @Override
    public void close() {
        agents.forEach(WorkerAgent::close);
        executors.forEach(JobExecutor::close);
    }
}
