package io.gpucloud.controlplane.reporting;

import io.gpucloud.controlplane.web.ApiException;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;
import tools.jackson.dataformat.csv.CsvMapper;
import tools.jackson.dataformat.csv.CsvSchema;

/**
 * Monthly invoices from {@code reporting.invoice_line} (V6): one per project and month (UTC; the
 * current month up to now), lines per instance type, location and rate in force. Used by the customer
 * endpoint /api/v1/invoices (one project) and the admin endpoint /admin/api/v1/invoices (all projects).
 */
@Service
public class Invoices {

    /** CSV columns, in order; one row per invoice line. */
    static final List<String> CSV_COLUMNS = List.of("tenant_name", "project_id", "project_name", "month",
            "instance_type", "location", "price_per_hour", "rate_effective_from", "period_start", "period_end",
            "vms", "seconds", "hours", "amount");

    public record Line(String instanceType, String location, BigDecimal pricePerHour, Instant rateEffectiveFrom,
                       Instant periodStart, Instant periodEnd, int vms, long seconds, BigDecimal hours,
                       BigDecimal amount) {
    }

    public record Invoice(UUID projectId, String projectName, String tenantName, String month, Instant periodStart,
                          Instant periodEnd, String currency, List<Line> lines, BigDecimal subtotal,
                          BigDecimal total) {
    }

    public record AllInvoices(String month, Instant periodStart, Instant periodEnd, String currency,
                              List<Invoice> invoices, BigDecimal total) {
    }

    private record Row(UUID projectId, String projectName, String tenantName, Line line) {
    }

    private final JdbcClient jdbc;
    private final CsvMapper csv = CsvMapper.builder().build();

    public Invoices(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    /** {@code month=YYYY-MM} (UTC), not in the future; the current month when null. 400 otherwise. */
    public static YearMonth parseMonth(String month) {
        YearMonth current = YearMonth.now(ZoneOffset.UTC);
        if (month == null) return current;
        YearMonth wanted;
        try {
            wanted = YearMonth.parse(month);
        } catch (java.time.format.DateTimeParseException e) {
            throw ApiException.badRequest("month", "month must look like 2026-11.");
        }
        if (wanted.isAfter(current)) {
            throw ApiException.badRequest("month", "month " + month + " has not begun.");
        }
        return wanted;
    }

    /** true for CSV ({@code ?format=csv} or {@code Accept: text/csv}); 400 for an unknown format. */
    public static boolean wantsCsv(String format, String accept) {
        if (format == null) return accept != null && accept.toLowerCase().contains("text/csv");
        if (format.equals("csv") || format.equals("json")) return format.equals("csv");
        throw ApiException.badRequest("format", "Unknown format '" + format + "'; one of [csv, json].");
    }

    private static Instant start(YearMonth m) {
        return m.atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant();
    }

    private static Instant end(YearMonth m) {
        Instant next = start(m.plusMonths(1));
        Instant now = Instant.now();
        return next.isBefore(now) ? next : now;
    }

    @Transactional(readOnly = true)
    List<Row> rows(UUID projectId, YearMonth month) {
        customPlans(jdbc);
        return jdbc.sql("""
                SELECT project_id, project_name, tenant_name, instance_type, location, price_per_hour,
                       rate_effective_from, period_start, period_end, vms, seconds, hours, amount
                  FROM reporting.invoice_line
                 WHERE month = ? AND (CAST(? AS uuid) IS NULL OR project_id = ?)
                 ORDER BY tenant_name, project_name, project_id, instance_type, location NULLS FIRST,
                          period_start, rate_effective_from
                """).params(month.atDay(1), projectId, projectId)
                .query((rs, n) -> new Row(rs.getObject(1, UUID.class), rs.getString(2), rs.getString(3),
                        new Line(rs.getString(4), rs.getString(5), rs.getBigDecimal(6), instant(rs, 7),
                                instant(rs, 8), instant(rs, 9), rs.getInt(10), rs.getLong(11),
                                rs.getBigDecimal(12), rs.getBigDecimal(13))))
                .list();
    }

    /**
     * The reporting views cannot push a month filter into their billing-span expansion, so a generic
     * plan (pgjdbc prepares a statement server-side after 5 uses; PostgreSQL may then stop re-planning
     * for the parameter values) scans every month: 7.7 s instead of 80 ms for the invoice lines with
     * 10,000 VMs. Planning each execution for its values costs about 2 ms. Needs a transaction.
     */
    public static void customPlans(JdbcClient jdbc) {
        jdbc.sql("SET LOCAL plan_cache_mode = force_custom_plan").update();
    }

    private static Instant instant(java.sql.ResultSet rs, int i) throws java.sql.SQLException {
        java.time.OffsetDateTime t = rs.getObject(i, java.time.OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }

    private static Invoice invoice(UUID projectId, String projectName, String tenantName, YearMonth month,
                                   List<Line> lines) {
        BigDecimal subtotal = lines.stream().map(Line::amount).reduce(BigDecimal.ZERO, BigDecimal::add);
        return new Invoice(projectId, projectName, tenantName, month.toString(), start(month), end(month), "USD",
                List.copyOf(lines), subtotal, subtotal);
    }

    /** One project's invoice (no lines when it used nothing). */
    @Transactional(readOnly = true)
    public Invoice forProject(UUID projectId, YearMonth month) {
        List<Row> rows = rows(projectId, month);
        String projectName = rows.isEmpty() ? null : rows.get(0).projectName();
        String tenantName = rows.isEmpty() ? null : rows.get(0).tenantName();
        return invoice(projectId, projectName, tenantName, month, rows.stream().map(Row::line).toList());
    }

    /** Every project with usage in the month. */
    @Transactional(readOnly = true)
    public AllInvoices all(YearMonth month) {
        Map<UUID, List<Row>> byProject = new LinkedHashMap<>();
        for (Row r : rows(null, month)) byProject.computeIfAbsent(r.projectId(), k -> new ArrayList<>()).add(r);
        List<Invoice> invoices = byProject.values().stream()
                .map(rs -> invoice(rs.get(0).projectId(), rs.get(0).projectName(), rs.get(0).tenantName(), month,
                        rs.stream().map(Row::line).toList()))
                .toList();
        BigDecimal total = invoices.stream().map(Invoice::total).reduce(BigDecimal.ZERO, BigDecimal::add);
        return new AllInvoices(month.toString(), start(month), end(month), "USD", invoices, total);
    }

    /** The lines of these invoices as CSV (snake_case header, one row per line), as a response. */
    public ResponseEntity<String> csv(List<Invoice> invoices, String filename) {
        CsvSchema.Builder schema = CsvSchema.builder();
        CSV_COLUMNS.forEach(schema::addColumn);
        StringBuilder out = new StringBuilder(String.join(",", CSV_COLUMNS)).append('\n');
        List<String[]> rows = new ArrayList<>();
        for (Invoice inv : invoices) {
            for (Line l : inv.lines()) {
                Object[] v = {inv.tenantName(), inv.projectId(), inv.projectName(), inv.month(), l.instanceType(),
                        l.location(), l.pricePerHour(), l.rateEffectiveFrom(), l.periodStart(), l.periodEnd(),
                        l.vms(), l.seconds(), l.hours(), l.amount()};
                String[] s = new String[v.length];
                for (int i = 0; i < v.length; i++) {
                    s[i] = v[i] == null ? "" : v[i] instanceof BigDecimal b ? b.toPlainString() : v[i].toString();
                }
                rows.add(s);
            }
        }
        if (!rows.isEmpty()) out.append(csv.writer(schema.build().withoutHeader()).writeValueAsString(rows));
        return ResponseEntity.ok().contentType(AdminReportController.TEXT_CSV)
                .header(HttpHeaders.CONTENT_DISPOSITION, "inline; filename=\"" + filename + ".csv\"")
                .body(out.toString());
    }

    /** JSON body or CSV, as asked. */
    public ResponseEntity<?> respond(Object json, List<Invoice> invoices, String filename, boolean asCsv) {
        if (asCsv) return csv(invoices, filename);
        return ResponseEntity.ok().contentType(MediaType.APPLICATION_JSON).body(json);
    }

}
