package io.gpucloud.controlplane.api;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;

/**
 * A project's usage for a calendar month (UTC; the current one up to now), from its billing spans:
 * each span is intersected with [start of month, end of month or now) in SQL, so a span that began last month counts
 * only from the first of this month and an open span counts up to now.
 *
 * <p>Rounding: seconds are whole seconds, truncated per VM and instance type from the exact sum
 * of the intersections; cost is {@code seconds × pricePerHour / 3600} from the catalog, rounded
 * half-up to cents once per line (a VM line, an instance-type line); the total is the sum of the
 * instance-type lines. Hours are seconds / 3600 to four decimals, for reading only.
 */
@Service
class Usage {

    private final JdbcClient jdbc;
    private final InstanceTypes types;

    Usage(JdbcClient jdbc, InstanceTypes types) {
        this.jdbc = jdbc;
        this.types = types;
    }

    record VmUsage(UUID vmId, String name, String instanceType, long seconds, BigDecimal hours,
                   BigDecimal pricePerHour, BigDecimal cost) {
    }

    record TypeUsage(String instanceType, long seconds, BigDecimal hours, BigDecimal pricePerHour, BigDecimal cost) {
    }

    record Report(Instant periodStart, Instant periodEnd, String currency, List<VmUsage> vms,
                  List<TypeUsage> instanceTypes, BigDecimal totalCost) {
    }

    private static final String SPANS = """
            WITH bounds AS (
                SELECT CAST(? AS timestamptz) AS start_at, CAST(? AS timestamptz) AS end_at
            ), price AS (
                SELECT * FROM unnest(CAST(? AS text[]), CAST(? AS numeric[])) AS p(instance_type, price_per_hour)
            ), used AS (
                SELECT b.vm_id, b.instance_type,
                       b.quantity * EXTRACT(EPOCH FROM upper(r.part) - lower(r.part)) AS seconds
                  FROM billing_span b CROSS JOIN bounds
                 CROSS JOIN LATERAL (SELECT b.period * tstzrange(bounds.start_at, bounds.end_at) AS part) r
                 WHERE b.project_id = ? AND b.period && tstzrange(bounds.start_at, bounds.end_at)
                   AND NOT isempty(r.part)
            )
            """;

    /** Usage in {@code month} (UTC), up to now for the current month. */
    Report report(UUID projectId, java.time.YearMonth month) {
        Instant now = Instant.now();
        Instant start = month.atDay(1).atStartOfDay(java.time.ZoneOffset.UTC).toInstant();
        Instant next = month.plusMonths(1).atDay(1).atStartOfDay(java.time.ZoneOffset.UTC).toInstant();
        Instant end = next.isBefore(now) ? next : now;
        java.time.OffsetDateTime from = start.atOffset(java.time.ZoneOffset.UTC);
        java.time.OffsetDateTime to = end.atOffset(java.time.ZoneOffset.UTC);
        String[] names = types.all().stream().map(InstanceTypes.InstanceType::name).toArray(String[]::new);
        String[] prices = types.all().stream().map(t -> t.pricePerHour().toPlainString()).toArray(String[]::new);
        List<VmUsage> vms = jdbc.sql(SPANS + """
                SELECT u.vm_id, v.name, u.instance_type, s.seconds, round(s.seconds / 3600.0, 4) AS hours,
                       p.price_per_hour, round(s.seconds * COALESCE(p.price_per_hour, 0) / 3600, 2) AS cost
                  FROM (SELECT vm_id, instance_type, sum(seconds) AS exact FROM used GROUP BY vm_id, instance_type) u
                  CROSS JOIN LATERAL (SELECT floor(u.exact)::bigint AS seconds) s
                  JOIN vm v ON v.id = u.vm_id
                  LEFT JOIN price p ON p.instance_type = u.instance_type
                 ORDER BY v.name, u.vm_id
                """).params(from, to, names, prices, projectId)
                .query((rs, n) -> new VmUsage(rs.getObject(1, UUID.class), rs.getString(2), rs.getString(3),
                        rs.getLong(4), rs.getBigDecimal(5), rs.getBigDecimal(6), rs.getBigDecimal(7)))
                .list();
        List<TypeUsage> perType = jdbc.sql(SPANS + """
                SELECT u.instance_type, s.seconds, round(s.seconds / 3600.0, 4), p.price_per_hour,
                       round(s.seconds * COALESCE(p.price_per_hour, 0) / 3600, 2)
                  FROM (SELECT instance_type, sum(seconds) AS exact FROM used GROUP BY instance_type) u
                  CROSS JOIN LATERAL (SELECT floor(u.exact)::bigint AS seconds) s
                  LEFT JOIN price p ON p.instance_type = u.instance_type
                 ORDER BY u.instance_type
                """).params(from, to, names, prices, projectId)
                .query((rs, n) -> new TypeUsage(rs.getString(1), rs.getLong(2), rs.getBigDecimal(3),
                        rs.getBigDecimal(4), rs.getBigDecimal(5)))
                .list();
        BigDecimal total = perType.stream().map(TypeUsage::cost).reduce(BigDecimal.ZERO, BigDecimal::add);
        return new Report(start, end, "USD", vms, perType, total);
    }
}
