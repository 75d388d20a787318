package io.gpucloud.controlplane.api;

import io.gpucloud.controlplane.web.ApiException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.http.HttpStatus;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/**
 * Per-project limits on GPUs per model ({@code gpus:<model>}), vCPUs and VMs. Limits come from
 * {@code project_quota}, or the defaults when a project has no row for a resource. Every VM that
 * is not deleted or failed counts: pending ones because they will take the capacity, stopped GPU
 * ones because they keep their GPUs.
 */
@Service
public class Quotas {

    private final JdbcClient jdbc;
    private final InstanceTypes types;
    private final int defaultGpusPerModel;
    private final int defaultVcpus;
    private final int defaultVms;

    Quotas(JdbcClient jdbc, InstanceTypes types,
           @Value("${gpucloud.api.quota-defaults.gpus-per-model:16}") int defaultGpusPerModel,
           @Value("${gpucloud.api.quota-defaults.vcpus:512}") int defaultVcpus,
           @Value("${gpucloud.api.quota-defaults.vms:20}") int defaultVms) {
        this.jdbc = jdbc;
        this.types = types;
        this.defaultGpusPerModel = defaultGpusPerModel;
        this.defaultVcpus = defaultVcpus;
        this.defaultVms = defaultVms;
    }

    record Quota(String resource, int limit, long inUse) {
    }

    record QuotaList(List<Quota> items) {
    }

    QuotaList list(UUID projectId) {
        Map<String, Integer> limits = limits(projectId);
        Map<String, Long> use = inUse(projectId);
        TreeSet<String> gpuResources = new TreeSet<>();
        types.all().stream().map(InstanceTypes.InstanceType::gpuModel).filter(Objects::nonNull)
                .forEach(m -> gpuResources.add("gpus:" + m));
        limits.keySet().stream().filter(r -> r.startsWith("gpus:")).forEach(gpuResources::add);
        use.keySet().stream().filter(r -> r.startsWith("gpus:")).forEach(gpuResources::add);
        List<Quota> items = new ArrayList<>();
        for (String r : gpuResources) {
            items.add(new Quota(r, limit(limits, r), use.getOrDefault(r, 0L)));
        }
        for (String r : List.of("vcpus", "vms")) {
            items.add(new Quota(r, limit(limits, r), use.getOrDefault(r, 0L)));
        }
        return new QuotaList(items);
    }

    /**
     * Refuses a VM of {@code type} that would take the project over a limit. The caller holds the
     * project row lock (see {@link #lockProject}) so concurrent creates cannot both squeeze in.
     */
    void check(UUID projectId, InstanceTypes.InstanceType type) {
        Map<String, Integer> limits = limits(projectId);
        Map<String, Long> use = inUse(projectId);
        Map<String, Integer> wanted = new LinkedHashMap<>();
        if (type.gpuCount() > 0) {
            wanted.put("gpus:" + type.gpuModel(), type.gpuCount());
        }
        wanted.put("vcpus", type.vcpus());
        wanted.put("vms", 1);
        wanted.forEach((resource, requested) -> {
            int limit = limit(limits, resource);
            long inUse = use.getOrDefault(resource, 0L);
            if (inUse + requested > limit) {
                throw new ApiException(HttpStatus.FORBIDDEN, "quota-exceeded", "Quota exceeded",
                        "The project's quota for " + resource + " is " + limit + "; " + inUse
                                + " in use and " + requested + " requested.",
                        Map.of("resource", resource, "limit", limit, "inUse", inUse, "requested", requested));
            }
        });
    }

    /** Most any limit may be set to: far beyond any fleet, low enough to catch a typo'd extra digit. */
    static final int MAX_LIMIT = 1_000_000;

    /**
     * Replaces the project's limits (PUT semantics): each listed resource gets its limit, every other
     * resource goes back to the default. A limit below what is in use refuses new VMs only; nothing
     * running is stopped. Resources are {@code vms}, {@code vcpus} and {@code gpus:<model>} for a GPU
     * model of the catalog.
     */
    @Transactional
    public void replace(UUID projectId, Map<String, ? extends Number> requested) {
        Map<String, Integer> limits = new LinkedHashMap<>();
        Set<String> gpuModels = new TreeSet<>();
        types.all().stream().map(InstanceTypes.InstanceType::gpuModel).filter(Objects::nonNull).forEach(gpuModels::add);
        requested.forEach((resource, limit) -> {
            String field = "limits." + resource;
            boolean known = resource.equals("vms") || resource.equals("vcpus")
                    || resource.startsWith("gpus:") && gpuModels.contains(resource.substring(5));
            if (!known) {
                throw ApiException.badRequest(field, "Unknown resource '" + resource + "': use vms, vcpus or one of "
                        + gpuModels.stream().map(m -> "gpus:" + m).toList() + ".");
            }
            // a JSON number with a fraction arrives as a Double or BigDecimal: not a count of anything
            boolean integral = limit instanceof Integer || limit instanceof Long || limit instanceof java.math.BigInteger;
            if (!integral || limit.longValue() < 0 || limit.longValue() > MAX_LIMIT
                    || limit instanceof java.math.BigInteger b && b.bitLength() > 62) {
                throw ApiException.badRequest(field, field + " must be an integer between 0 and " + MAX_LIMIT + ".");
            }
            limits.put(resource, limit.intValue());
        });
        lockProject(projectId);
        jdbc.sql("DELETE FROM project_quota WHERE project_id = ?").param(projectId).update();
        limits.forEach((resource, limit) -> jdbc.sql(
                        "INSERT INTO project_quota (project_id, resource, max_amount) VALUES (?, ?, ?)")
                .params(projectId, resource, limit).update());
    }

    void lockProject(UUID projectId) {
        jdbc.sql("SELECT id FROM project WHERE id = ? FOR UPDATE").param(projectId).query(UUID.class).optional();
    }

    private int limit(Map<String, Integer> limits, String resource) {
        return limits.getOrDefault(resource, switch (resource) {
            case "vcpus" -> defaultVcpus;
            case "vms" -> defaultVms;
            default -> defaultGpusPerModel;
        });
    }

    private Map<String, Integer> limits(UUID projectId) {
        Map<String, Integer> limits = new HashMap<>();
        jdbc.sql("SELECT resource, max_amount FROM project_quota WHERE project_id = ?").param(projectId)
                .query(rs -> {
                    limits.put(rs.getString(1), rs.getInt(2));
                });
        return limits;
    }

    private Map<String, Long> inUse(UUID projectId) {
        Map<String, Long> use = new HashMap<>();
        jdbc.sql("""
                SELECT 'gpus:' || gpu_model, sum(gpu_count) FROM vm
                 WHERE project_id = ? AND state NOT IN ('deleted', 'failed') AND gpu_count > 0
                 GROUP BY gpu_model
                UNION ALL
                SELECT 'vcpus', COALESCE(sum(vcpus), 0) FROM vm WHERE project_id = ? AND state NOT IN ('deleted', 'failed')
                UNION ALL
                SELECT 'vms', count(*) FROM vm WHERE project_id = ? AND state NOT IN ('deleted', 'failed')
                """).params(projectId, projectId, projectId)
                .query(rs -> {
                    use.put(rs.getString(1), rs.getLong(2));
                });
        return use;
    }
}
