package io.gpucloud.controlplane.benchmark;

import io.gpucloud.controlplane.tenancy.Users;
import java.net.CookieManager;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Profile;
import org.springframework.core.env.Environment;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Console page times at fleet scale (issue 6: every page in under 200 ms server time with 1,000 hosts
 * and 10,000 VMs). Seeds a synthetic fleet and VMs in 50 tenants / 100 projects with their GPU, CPU and
 * memory claims made through the {@code claim_placement} SQL function, billing spans, worker jobs and
 * a day of utilization samples; signs in over HTTP like a browser (CSRF token from the form, session
 * cookie) and requests each page, printing server time (from {@code Server-Timing}) and client time.
 *
 * <pre>
 * java -jar control-plane/target/control-plane.jar --spring.profiles.active=console-benchmark \
 *      [--benchmark.hosts=1000] [--benchmark.requests=50] [--benchmark.warmup=10] [--benchmark.hold-seconds=0]
 * </pre>
 */
@Component
@Profile("console-benchmark")
class ConsoleBenchmark implements ApplicationRunner {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ConsoleBenchmark.class);
    private static final List<String> MODELS = List.of("H100-SXM5-80GB", "H200-SXM-141GB", "B200-SXM-180GB");
    private static final String ADMIN = "bench-admin@bench.local";
    private static final String CUSTOMER = "bench-owner@bench.local";
    private static final String PASSWORD = "console-benchmark-password";
    private static final Pattern SERVER_TIMING = Pattern.compile("app;dur=([0-9.]+)");

    private final JdbcClient jdbc;
    private final TransactionTemplate tx;
    private final Users users;
    private final Environment env;
    private final ConfigurableApplicationContext context;
    private final int hosts;
    private final int requests;
    private final int warmup;
    private final int holdSeconds;

    ConsoleBenchmark(JdbcClient jdbc, TransactionTemplate tx, Users users, Environment env,
                     ConfigurableApplicationContext context, @Value("${benchmark.hosts:1000}") int hosts,
                     @Value("${benchmark.requests:50}") int requests, @Value("${benchmark.warmup:10}") int warmup,
                     @Value("${benchmark.hold-seconds:0}") int holdSeconds) {
        this.jdbc = jdbc;
        this.tx = tx;
        this.users = users;
        this.env = env;
        this.context = context;
        this.hosts = hosts;
        this.requests = requests;
        this.warmup = warmup;
        this.holdSeconds = holdSeconds;
    }

    @Override
    public void run(ApplicationArguments args) throws Exception {
        log.info("Console benchmark: {} hosts, {} VMs", hosts, hosts * 10);
        long t0 = System.nanoTime();
        new SyntheticFleet(jdbc, tx).create("cbench", "bench-1", hosts, MODELS);
        seedTenantsAndVms();
        jdbc.sql("ANALYZE").update();
        System.out.printf("seeded %,d hosts, %,d VMs (%,d not deleted), %,d worker jobs, %,d billing spans in %.1f s%n",
                count("host"), count("vm"), jdbc.sql("SELECT count(*) FROM vm WHERE state <> 'deleted'").query(Long.class).single(),
                count("worker_job"), count("billing_span"), (System.nanoTime() - t0) / 1e9);

        String base = "http://127.0.0.1:" + env.getProperty("local.server.port");
        HttpClient admin = signIn(base, ADMIN);
        HttpClient customer = signIn(base, CUSTOMER);
        UUID host = jdbc.sql("SELECT id FROM host WHERE name = 'cbench-00042'").query(UUID.class).single();
        UUID vm = jdbc.sql("SELECT id FROM vm WHERE state = 'running' AND gpu_count = 4 ORDER BY name LIMIT 1")
                .query(UUID.class).single();
        UUID tenant = jdbc.sql("SELECT id FROM tenant WHERE name = 'tenant-07'").query(UUID.class).single();
        UUID project = jdbc.sql("SELECT p.id FROM project p JOIN tenant t ON t.id = p.tenant_id "
                + "WHERE t.name = 'tenant-01' ORDER BY p.name LIMIT 1").query(UUID.class).single();

        Map<String, HttpClient> pages = new LinkedHashMap<>();
        pages.put("/console/admin", admin);
        pages.put("/console/admin/hosts", admin);
        pages.put("/console/admin/hosts?q=cbench-0042", admin);
        pages.put("/console/admin/hosts/" + host, admin);
        pages.put("/console/admin/gpus", admin);
        pages.put("/console/admin/vms", admin);
        pages.put("/console/admin/vms/" + vm, admin);
        pages.put("/console/admin/tenants", admin);
        pages.put("/console/admin/tenants/" + tenant, admin);
        pages.put("/console/admin/billing", admin);
        pages.put("/console/projects/" + project, customer);

        System.out.println();
        System.out.printf("%-62s %6s %26s %26s %8s%n", "page", "status", "server ms p50 / p95 / p99",
                "client ms p50 / p95 / p99", "KiB");
        boolean allFast = true;
        for (Map.Entry<String, HttpClient> p : pages.entrySet()) {
            String label = p.getKey().replace(host.toString(), "{host}").replace(vm.toString(), "{vm}")
                    .replace(tenant.toString(), "{tenant}").replace(project.toString(), "{project}");
            HttpResponse<String> first = get(p.getValue(), base + p.getKey());
            if (first.statusCode() == 404) {
                System.out.printf("%-62s %6s%n", label, "missing");
                continue;
            }
            if (first.statusCode() != 200) {
                System.out.printf("%-62s %6d (not measured)%n", label, first.statusCode());
                allFast = false;
                continue;
            }
            for (int i = 0; i < warmup; i++) get(p.getValue(), base + p.getKey());
            double[] server = new double[requests];
            double[] client = new double[requests];
            int size = 0;
            for (int i = 0; i < requests; i++) {
                long s = System.nanoTime();
                HttpResponse<String> r = get(p.getValue(), base + p.getKey());
                client[i] = (System.nanoTime() - s) / 1e6;
                Matcher m = SERVER_TIMING.matcher(r.headers().firstValue("Server-Timing").orElse(""));
                server[i] = m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
                size = r.body().length();
            }
            Arrays.sort(server);
            Arrays.sort(client);
            allFast &= pct(server, 0.95) < 200;
            System.out.printf(Locale.ROOT, "%-62s %6d %26s %26s %8d%n", label, 200,
                    String.format(Locale.ROOT, "%.1f / %.1f / %.1f", pct(server, .5), pct(server, .95), pct(server, .99)),
                    String.format(Locale.ROOT, "%.1f / %.1f / %.1f", pct(client, .5), pct(client, .95), pct(client, .99)),
                    size / 1024);
        }
        System.out.println();
        System.out.println(allFast ? "every measured page: p95 server time < 200 ms"
                : "some page is over 200 ms (p95 server time) or did not answer 200");
        if (holdSeconds > 0) {
            System.out.printf("holding the server and its database for %d s (benchmark.hold-seconds)%n", holdSeconds);
            Thread.sleep(holdSeconds * 1000L);
        }
        System.exit(SpringApplication.exit(context, () -> 0));
    }

    private long count(String table) {
        return jdbc.sql("SELECT count(*) FROM " + table).query(Long.class).single();
    }

    private static double pct(double[] sorted, double p) {
        if (sorted.length == 0) return Double.NaN;
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
    }

    private static HttpResponse<String> get(HttpClient http, String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Signs in like a browser: the CSRF token from the sign-in form, then the form POST; keeps the session cookie. */
    private static HttpClient signIn(String base, String email) throws Exception {
        HttpClient http = HttpClient.newBuilder().cookieHandler(new CookieManager())
                .followRedirects(HttpClient.Redirect.NEVER).build();
        String form = get(http, base + "/login").body();
        Matcher m = Pattern.compile("name=\"_csrf\"\\s+value=\"([^\"]+)\"").matcher(form);
        if (!m.find()) throw new IllegalStateException("no CSRF token in the sign-in form");
        String body = "email=" + URLEncoder.encode(email, StandardCharsets.UTF_8) + "&password="
                + URLEncoder.encode(PASSWORD, StandardCharsets.UTF_8) + "&_csrf=" + URLEncoder.encode(m.group(1), StandardCharsets.UTF_8);
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/login"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        String location = r.headers().firstValue("Location").orElse("");
        if (r.statusCode() != 302 || !location.endsWith("/console")) {
            throw new IllegalStateException("sign-in of " + email + " failed: " + r.statusCode() + " " + location);
        }
        return http;
    }

    /**
     * 50 tenants with 2 projects each and an owner (without a password, except tenant-01's); 10 VMs per
     * host: 4 running GPU VMs filling its 8 GPUs (4 + 2 + 1 + 1, NVLink partitions, NUMA-local CPUs),
     * 2 running CPU VMs, 1 stopped, 2 deleted, 1 failed. Running VMs have open billing spans since they
     * were created (up to 60 days ago), deleted ones closed spans; every placed VM has its provisioning
     * jobs; a day of per-minute utilization samples.
     */
    private void seedTenantsAndVms() {
        tx.executeWithoutResult(s -> {
            jdbc.sql("INSERT INTO tenant (id, name) SELECT gen_random_uuid(), 'tenant-' || lpad(i::text, 2, '0') "
                    + "FROM generate_series(1, 50) i").update();
            jdbc.sql("INSERT INTO project (id, tenant_id, name) SELECT gen_random_uuid(), t.id, p "
                    + "FROM tenant t, unnest(ARRAY['training', 'inference']) p WHERE t.name LIKE 'tenant-%'").update();
            jdbc.sql("INSERT INTO app_user (id, tenant_id, email, display_name, role) SELECT gen_random_uuid(), id, "
                    + "'owner@' || name || '.bench', 'Owner of ' || name, 'owner' FROM tenant WHERE name LIKE 'tenant-%'").update();
            // 10 VMs per host; project by host number so that every project has VMs on many hosts
            jdbc.sql("""
                    CREATE TEMP TABLE bench_plan ON COMMIT DROP AS
                    SELECT gen_random_uuid() AS vm_id, h.id AS host_id, h.n, k, h.gpu_model,
                           (SELECT id FROM project ORDER BY id OFFSET ((h.n * 10 + k) % 100) LIMIT 1) AS project_id,
                           CASE WHEN k < 6 THEN 'running' WHEN k = 6 THEN 'stopped' WHEN k < 9 THEN 'deleted'
                                ELSE 'failed' END AS state,
                           CASE k WHEN 0 THEN 4 WHEN 1 THEN 2 WHEN 2 THEN 1 WHEN 3 THEN 1 ELSE 0 END AS gpus,
                           now() - make_interval(secs => 3600 + ((h.n * 7919 + k * 104729) % (60 * 86400))) AS created
                      FROM (SELECT id, gpu_model, row_number() OVER (ORDER BY name) AS n FROM host
                             WHERE name LIKE 'cbench-%') h, generate_series(0, 9) k
                    """).update();
            jdbc.sql("""
                    INSERT INTO vm (id, project_id, name, state, state_reason, instance_type, location, gpu_model,
                                    gpu_count, vcpus, memory_mib, created_at, updated_at, deleted_at)
                    SELECT vm_id, project_id, 'vm-' || n || '-' || k, state,
                           CASE state WHEN 'failed' THEN 'host step start_domain failed: simulated' END,
                           CASE WHEN gpus > 0 THEN lower(split_part(gpu_model, '-', 1)) || 'x' || gpus ELSE 'cpu4' END,
                           'bench-1', CASE WHEN gpus > 0 THEN gpu_model END, gpus,
                           CASE gpus WHEN 4 THEN 16 WHEN 2 THEN 8 ELSE 4 END, 16384, created,
                           created + interval '5 minutes', CASE state WHEN 'deleted' THEN created + interval '2 days' END
                      FROM bench_plan
                    """).update();
            // claims through the same SQL function as placement: partition + its GPUs + NUMA-local CPUs
            // claims through the same SQL function as placement: a free NVLink partition of the right size
            // (none of its GPUs held), its GPUs, and free CPUs on the GPUs' NUMA node
            jdbc.sql("""
                    DO $$
                    DECLARE
                        b record;
                        part bigint;
                        gpus bigint[];
                        node integer;
                        cpus integer[];
                    BEGIN
                        FOR b IN SELECT * FROM bench_plan WHERE state = 'running' ORDER BY host_id, gpus DESC, k LOOP
                            part := NULL;
                            gpus := '{}';
                            node := CASE WHEN b.k = 5 THEN 1 ELSE 0 END;
                            IF b.gpus > 0 THEN
                                SELECT p.id INTO part FROM gpu_partition p
                                 WHERE p.host_id = b.host_id AND p.gpu_count = b.gpus AND p.vm_id IS NULL AND p.available
                                   AND NOT EXISTS (SELECT 1 FROM gpu_partition_member m JOIN pci_device d ON d.id = m.device_id
                                                    WHERE m.partition_row_id = p.id AND d.vm_id IS NOT NULL)
                                 ORDER BY p.partition_id LIMIT 1;
                                SELECT array_agg(d.id), min(d.numa_node) INTO gpus, node
                                  FROM gpu_partition_member m JOIN pci_device d ON d.id = m.device_id
                                 WHERE m.partition_row_id = part;
                            END IF;
                            SELECT array_agg(c.cpu_id) INTO cpus FROM (
                                SELECT cpu_id FROM cpu WHERE host_id = b.host_id AND node_id = node
                                   -- coalesce makes the scalar subquery an array expression: "<> ALL ((SELECT ...))"
                                   -- is read as ALL over the subquery's rows, each an integer[]
                                   AND cpu_id <> ALL (coalesce((SELECT held_cpus FROM numa_node
                                                                 WHERE host_id = b.host_id AND node_id = node), '{}'))
                                 ORDER BY cpu_id LIMIT CASE b.gpus WHEN 4 THEN 16 WHEN 2 THEN 8 ELSE 4 END) c;
                            -- 16 GiB of guest memory: 16 x 1 GiB pages on the GPUs' node, as a real claim takes
                            PERFORM claim_placement(b.vm_id, b.host_id, part, coalesce(gpus, '{}'), cpus,
                                                    ARRAY[node], ARRAY[16], 16384, NULL);
                        END LOOP;
                    END
                    $$
                    """).update();
            jdbc.sql("""
                    INSERT INTO billing_span (project_id, vm_id, resource, instance_type, location, quantity, period)
                    SELECT v.project_id, v.id, 'vm', v.instance_type, v.location, 1,
                           tstzrange(v.created_at + interval '5 minutes',
                                     CASE v.state WHEN 'running' THEN NULL WHEN 'stopped' THEN v.created_at + interval '1 day'
                                          ELSE v.deleted_at END)
                      FROM vm v JOIN bench_plan b ON b.vm_id = v.id
                     WHERE v.state IN ('running', 'stopped', 'deleted')
                    """).update();
            jdbc.sql("""
                    INSERT INTO worker_job (id, host_id, vm_id, kind, state, attempts, result, created_at, started_at,
                                            finished_at)
                    SELECT gen_random_uuid(), b.host_id, b.vm_id, j.kind,
                           CASE WHEN b.state = 'failed' AND j.n = 4 THEN 'failed' ELSE 'succeeded' END, 1,
                           '{}'::jsonb, b.created + j.n * interval '20 seconds',
                           b.created + j.n * interval '20 seconds' + interval '1 second',
                           b.created + j.n * interval '20 seconds' + interval '15 seconds'
                      FROM bench_plan b,
                           (VALUES (1, 'reset_gpus'), (2, 'activate_partition'), (3, 'bind_vfio'),
                                   (4, 'start_domain')) AS j(n, kind)
                     WHERE b.state IN ('running', 'failed')
                    """).update();
            jdbc.sql("""
                    INSERT INTO reporting.utilization_sample (sampled_at, location, gpu_model, total, allocated)
                    SELECT date_trunc('minute', now()) - m * interval '1 minute', 'bench-1', g.model,
                           (? / 3) * 8, ((? / 3) * 8 * (0.55 + 0.3 * sin(m / 120.0)))::integer
                      FROM generate_series(0, 1439) m, unnest(?::text[]) g(model)
                    """).params(hosts, hosts, MODELS.toArray(String[]::new)).update();
        });
        users.create(ADMIN, "Benchmark admin", PASSWORD, "admin", null);
        users.create(CUSTOMER, "Benchmark owner", PASSWORD, "owner", "tenant-01");
    }
}
