package io.gpucloud.controlplane.reporting;

import java.sql.ResultSetMetaData;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.postgresql.util.PGobject;
import org.springframework.jdbc.core.ResultSetExtractor;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/** The reports behind /admin/api/v1/reports: each one a view of the {@code reporting} schema (V5). */
@Service
public class Reports {

    /** report name in the URL → its SQL; the order is the one the rows come back in */
    static final Map<String, String> SQL = Map.of(
            "capacity", "SELECT * FROM reporting.capacity ORDER BY location, gpu_model",
            "free-partitions", "SELECT * FROM reporting.free_partitions ORDER BY location, host_name, gpu_count DESC",
            "largest-placeable",
            "SELECT * FROM reporting.largest_placeable ORDER BY location, largest_placeable_gpus DESC, host_name",
            "tenant-usage",
            "SELECT * FROM reporting.tenant_usage_monthly ORDER BY month DESC, tenant_name, project_name",
            "suspect-devices", "SELECT * FROM reporting.suspect_devices ORDER BY location, host_name, bdf",
            "utilization", "SELECT * FROM reporting.utilization_hourly ORDER BY hour DESC, location, gpu_model");

    /** A report's columns (as named in SQL) and its rows, values in column order. */
    public record Table(List<String> columns, List<List<Object>> rows) {
    }

    private final JdbcClient jdbc;

    public Reports(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    static List<String> names() {
        return SQL.keySet().stream().sorted().toList();
    }

    @Transactional(readOnly = true)
    public Optional<Table> run(String name) {
        String sql = SQL.get(name);
        if (sql == null) return Optional.empty();
        List<String> columns = new ArrayList<>();
        List<List<Object>> rows = jdbc.sql(sql).query((rs, n) -> {
            ResultSetMetaData md = rs.getMetaData();
            if (columns.isEmpty()) {
                for (int i = 1; i <= md.getColumnCount(); i++) columns.add(md.getColumnLabel(i));
            }
            List<Object> row = new ArrayList<>(md.getColumnCount());
            for (int i = 1; i <= md.getColumnCount(); i++) row.add(plain(rs.getObject(i)));
            return row;
        }).list();
        if (columns.isEmpty()) {
            // no rows: still say which columns the report has
            jdbc.sql("SELECT * FROM (" + sql + ") r LIMIT 0").query((ResultSetExtractor<Boolean>) rs -> {
                ResultSetMetaData md = rs.getMetaData();
                for (int i = 1; i <= md.getColumnCount(); i++) columns.add(md.getColumnLabel(i));
                return true;
            });
        }
        return Optional.of(new Table(List.copyOf(columns), rows));
    }

    /** JDBC values as JSON-friendly Java values. */
    private static Object plain(Object value) {
        if (value instanceof Timestamp ts) return ts.toInstant();
        if (value instanceof java.sql.Date d) return d.toLocalDate();
        if (value instanceof PGobject pg) return pg.getValue();
        if (value instanceof java.sql.Array a) {
            try {
                return Arrays.asList((Object[]) a.getArray());
            } catch (java.sql.SQLException e) {
                throw new IllegalStateException(e);
            }
        }
        return value;
    }

    /** snake_case → camelCase for JSON keys */
    static String camel(String column) {
        StringBuilder b = new StringBuilder(column.length());
        boolean up = false;
        for (char c : column.toCharArray()) {
            if (c == '_') {
                up = true;
            } else {
                b.append(up ? Character.toUpperCase(c) : c);
                up = false;
            }
        }
        return b.toString();
    }

    static Map<String, Object> asJsonRow(List<String> columns, List<Object> row) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < columns.size(); i++) m.put(camel(columns.get(i)), row.get(i));
        return m;
    }
}
