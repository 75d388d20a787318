package io.gpucloud.controlplane.api;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;

/**
 * A project's usage for a calendar month (UTC; the current one up to now), priced like its invoice:
 * from {@code reporting.billing_piece} (V6), the month segments of its billing spans split where the
 * rate card ({@code reporting.rate_card}, effective dates, location-specific rows first) changes.
 *
 * <p>Rounding, the same as {@code reporting.invoice_line}: seconds are whole seconds, truncated once per
 * line and rate in force from the exact sum; cost is {@code seconds × pricePerHour / 3600} rounded half-up
 * to cents once per rate (a VM line sums its rates; an instance-type line sums the invoice lines of that
 * type, one per location and rate); the total is the sum of the instance-type lines, so it equals the
 * invoice total. pricePerHour is the rate in force at the end of the line's usage in the month (null for
 * a type the rate card does not know). Hours are seconds / 3600 to four decimals, for reading only.
 */
@Service
public class Usage {

    private final JdbcClient jdbc;

    Usage(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    public record VmUsage(UUID vmId, String name, String instanceType, long seconds, BigDecimal hours,
                   BigDecimal pricePerHour, BigDecimal cost) {
    }

    public record TypeUsage(String instanceType, long seconds, BigDecimal hours, BigDecimal pricePerHour, BigDecimal cost) {
    }

    public record Report(Instant periodStart, Instant periodEnd, String currency, List<VmUsage> vms,
                  List<TypeUsage> instanceTypes, BigDecimal totalCost) {
    }

    /** Usage in {@code month} (UTC), up to now for the current month. */
    public Report report(UUID projectId, java.time.YearMonth month) {
        Instant now = Instant.now();
        Instant start = month.atDay(1).atStartOfDay(java.time.ZoneOffset.UTC).toInstant();
        Instant next = month.plusMonths(1).atDay(1).atStartOfDay(java.time.ZoneOffset.UTC).toInstant();
        Instant end = next.isBefore(now) ? next : now;
        java.time.LocalDate first = month.atDay(1);
        List<VmUsage> vms = jdbc.sql("""
                WITH r AS (
                    SELECT vm_id, instance_type, price_per_hour, max(piece_end) AS last_end,
                           floor(sum(seconds))::bigint AS seconds
                      FROM reporting.billing_piece
                     WHERE project_id = ? AND month = ?
                     GROUP BY vm_id, instance_type, rate_effective_from, price_per_hour
                )
                SELECT r.vm_id, v.name, r.instance_type, sum(r.seconds)::bigint AS seconds,
                       round(sum(r.seconds) / 3600.0, 4) AS hours,
                       (array_agg(r.price_per_hour ORDER BY r.last_end DESC))[1] AS price_per_hour,
                       sum(round(r.seconds * coalesce(r.price_per_hour, 0) / 3600, 2)) AS cost
                  FROM r JOIN vm v ON v.id = r.vm_id
                 GROUP BY r.vm_id, v.name, r.instance_type
                 ORDER BY v.name, r.vm_id
                """).params(projectId, first)
                .query((rs, n) -> new VmUsage(rs.getObject(1, UUID.class), rs.getString(2), rs.getString(3),
                        rs.getLong(4), rs.getBigDecimal(5), rs.getBigDecimal(6), rs.getBigDecimal(7)))
                .list();
        List<TypeUsage> perType = jdbc.sql("""
                SELECT instance_type, sum(seconds)::bigint, round(sum(seconds) / 3600.0, 4),
                       (array_agg(price_per_hour ORDER BY period_end DESC))[1], sum(amount)
                  FROM reporting.invoice_line
                 WHERE project_id = ? AND month = ?
                 GROUP BY instance_type
                 ORDER BY instance_type
                """).params(projectId, first)
                .query((rs, n) -> new TypeUsage(rs.getString(1), rs.getLong(2), rs.getBigDecimal(3),
                        rs.getBigDecimal(4), rs.getBigDecimal(5)))
                .list();
        BigDecimal total = perType.stream().map(TypeUsage::cost).reduce(BigDecimal.ZERO, BigDecimal::add);
        return new Report(start, end, "USD", vms, perType, total);
    }
}
