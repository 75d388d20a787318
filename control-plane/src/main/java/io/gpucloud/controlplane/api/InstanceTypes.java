package io.gpucloud.controlplane.api;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import io.gpucloud.controlplane.vm.InstanceTypePolicy;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.core.io.Resource;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * The instance-type catalog. It is data ({@code catalog/instance-types.json}, or the file named by
 * {@code gpucloud.api.instance-types}) so that sales can change shapes and prices without a code
 * change; it is checked once at startup so a bad file stops the service instead of a request.
 */
@Service
public class InstanceTypes implements InstanceTypePolicy {

    private static final Set<Integer> GPU_COUNTS = Set.of(0, 1, 2, 4, 8);

    public record InstanceType(String name, String gpuModel, int gpuCount, int vcpus, long memoryMiB, int diskGiB,
                               BigDecimal pricePerHour, String numaPolicy, boolean keepsGpusWhenStopped) {
    }

    record Catalog(String _comment, List<InstanceType> instanceTypes) {
    }

    private final Map<String, InstanceType> byName = new LinkedHashMap<>();
    private final JdbcClient jdbc;

    InstanceTypes(@Value("${gpucloud.api.instance-types:classpath:catalog/instance-types.json}") Resource file,
                  JdbcClient jdbc) {
        this.jdbc = jdbc;
        // a typo in the catalog must fail loudly, whatever the web mapper tolerates
        JsonMapper strict = JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES).build();
        try (InputStream in = file.getInputStream()) {
            for (InstanceType t : strict.readValue(in, Catalog.class).instanceTypes()) {
                check(t);
                if (byName.putIfAbsent(t.name(), t) != null) {
                    throw new IllegalStateException("instance type " + t.name() + " is listed twice in " + file);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the instance-type catalog " + file, e);
        }
    }

    private static void check(InstanceType t) {
        boolean ok = t.name() != null && t.name().matches("[a-z0-9]{1,32}")
                && GPU_COUNTS.contains(t.gpuCount()) && (t.gpuCount() == 0) == (t.gpuModel() == null)
                && t.vcpus() > 0 && t.memoryMiB() >= 1024 && t.diskGiB() > 0
                && t.pricePerHour() != null && t.pricePerHour().signum() >= 0
                && Set.of("required", "preferred").contains(t.numaPolicy());
        if (!ok) {
            throw new IllegalStateException("invalid instance type in the catalog: " + t);
        }
    }

    public List<InstanceType> all() {
        return List.copyOf(byName.values());
    }

    Optional<InstanceType> find(String name) {
        return Optional.ofNullable(name == null ? null : byName.get(name));
    }

    @Override
    public boolean keepsGpusWhenStopped(String instanceType) {
        return find(instanceType).map(InstanceType::keepsGpusWhenStopped).orElse(false);
    }

    /** How many VMs of one type could be placed now in one location. */
    public record Availability(String location, int available) {
    }

    private record Row(UUID hostId, String location, String gpuModel, int freeCpus, long freeMemoryMiB,
                       Integer partitionSize, int freePartitions) {
    }

    private record HostCapacity(UUID hostId, String location, String gpuModel, int freeCpus, long freeMemoryMiB,
                                Map<Integer, Integer> freePartitionsBySize) {
    }

    /**
     * Availability of every type per location, from one query over ready hosts: a GPU type counts
     * the free fabric partitions of its size on hosts of its model, capped by the host's free vCPUs
     * and memory; a CPU type counts how many times its shape fits in each ready host's free vCPUs and
     * memory. An upper bound: NUMA locality is left to placement, which may still refuse.
     */
    public Map<String, List<Availability>> availability() {
        Map<UUID, HostCapacity> hosts = new LinkedHashMap<>();
        jdbc.sql("""
                SELECT h.id, h.location, h.gpu_model, h.total_cpus - h.used_cpus AS free_cpus,
                       h.total_memory_mib - h.used_memory_mib AS free_memory, f.gpu_count, f.free
                  FROM host h
                  LEFT JOIN (SELECT p.host_id, p.gpu_count, count(*) AS free
                               FROM gpu_partition p
                              WHERE p.available AND p.vm_id IS NULL
                                AND NOT EXISTS (SELECT 1 FROM gpu_partition_member m JOIN pci_device d ON d.id = m.device_id
                                                 WHERE m.partition_row_id = p.id AND (d.vm_id IS NOT NULL OR d.health <> 'ok'))
                              GROUP BY p.host_id, p.gpu_count) f ON f.host_id = h.id
                 WHERE h.state = 'ready'
                """).query((rs, n) -> new Row(rs.getObject("id", UUID.class), rs.getString("location"),
                        rs.getString("gpu_model"), rs.getInt("free_cpus"), rs.getLong("free_memory"),
                        (Integer) rs.getObject("gpu_count"), rs.getInt("free")))
                .list()
                .forEach(r -> {
                    HostCapacity host = hosts.computeIfAbsent(r.hostId(), id -> new HostCapacity(id, r.location(),
                            r.gpuModel(), r.freeCpus(), r.freeMemoryMiB(), new TreeMap<>()));
                    if (r.partitionSize() != null) {
                        host.freePartitionsBySize().put(r.partitionSize(), r.freePartitions());
                    }
                });

        Map<String, List<Availability>> result = new LinkedHashMap<>();
        for (InstanceType t : byName.values()) {
            Map<String, Integer> perLocation = new TreeMap<>();
            for (HostCapacity h : hosts.values()) {
                if (t.gpuCount() > 0 && !t.gpuModel().equals(h.gpuModel())) {
                    continue;
                }
                long fits = Math.min(h.freeCpus() / t.vcpus(), h.freeMemoryMiB() / t.memoryMiB());
                if (t.gpuCount() > 0) {
                    fits = Math.min(fits, h.freePartitionsBySize().getOrDefault(t.gpuCount(), 0));
                }
                perLocation.merge(h.location(), (int) Math.max(0, fits), Integer::sum);
            }
            List<Availability> list = new ArrayList<>();
            perLocation.forEach((location, n) -> list.add(new Availability(location, n)));
            result.put(t.name(), list);
        }
        return result;
    }
}
