package io.gpucloud.controlplane.console;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Controller;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.ui.Model;
import org.springframework.web.bind.annotation.GetMapping;

/** The operator's first page: capacity, free partitions, VMs by state, recent failures, utilization. */
@Controller
class DashboardController {

    private final JdbcClient jdbc;
    DashboardController(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    record Capacity(String location, String gpuModel, int hosts, int total, int allocated, int free,
                    int quarantined, int unreachable) {
    }

    record FreePartitions(String gpuModel, int size, int free, int total) {
    }

    record StateCount(String state, long count) {
    }

    record Failure(UUID vmId, String vmName, String project, String reason, Instant at) {
    }

    @GetMapping("/console/admin")
    @Transactional(readOnly = true)
    String dashboard(Model model) {
        model.addAttribute("capacity", jdbc.sql("""
                SELECT location, gpu_model, hosts, total_gpus, allocated_gpus, free_gpus, quarantined_gpus,
                       unreachable_gpus
                  FROM reporting.capacity ORDER BY location, gpu_model
                """).query((rs, n) -> new Capacity(rs.getString(1), rs.getString(2), rs.getInt(3), rs.getInt(4),
                        rs.getInt(5), rs.getInt(6), rs.getInt(7), rs.getInt(8))).list());
        model.addAttribute("freePartitions", jdbc.sql("""
                WITH m AS (
                    SELECT pm.partition_row_id, bool_or(d.health <> 'ok') AS unhealthy,
                           bool_or(d.vm_id IS NOT NULL) AS held
                      FROM gpu_partition_member pm
                      JOIN pci_device d ON d.id = pm.device_id
                      JOIN host h ON h.id = d.host_id AND h.state = 'ready'
                     GROUP BY pm.partition_row_id)
                -- the rules of reporting.partition_state, in one pass instead of two lookups per partition
                SELECT h.gpu_model, p.gpu_count,
                       count(*) FILTER (WHERE p.vm_id IS NULL AND p.available AND NOT coalesce(m.unhealthy, false)
                                          AND NOT coalesce(m.held, false))::integer AS free,
                       count(*)::integer AS total
                  FROM gpu_partition p
                  JOIN host h ON h.id = p.host_id
                  LEFT JOIN m ON m.partition_row_id = p.id
                 WHERE h.state = 'ready'
                 GROUP BY h.gpu_model, p.gpu_count
                 ORDER BY h.gpu_model, p.gpu_count DESC
                """).query((rs, n) -> new FreePartitions(rs.getString(1), rs.getInt(2), rs.getInt(3), rs.getInt(4)))
                .list());
        model.addAttribute("vmStates", jdbc.sql("""
                SELECT state, count(*) FROM vm WHERE state <> 'deleted' GROUP BY state ORDER BY count(*) DESC, state
                """).query((rs, n) -> new StateCount(rs.getString(1), rs.getLong(2))).list());
        model.addAttribute("hostStates", jdbc.sql("""
                SELECT state, count(*) FROM host WHERE state <> 'retired' GROUP BY state ORDER BY count(*) DESC, state
                """).query((rs, n) -> new StateCount(rs.getString(1), rs.getLong(2))).list());
        model.addAttribute("failures", jdbc.sql("""
                SELECT v.id, v.name, p.name AS project, v.state_reason, v.updated_at
                  FROM vm v JOIN project p ON p.id = v.project_id
                 WHERE v.state = 'failed'
                 ORDER BY v.updated_at DESC LIMIT 10
                """).query((rs, n) -> new Failure(rs.getObject(1, UUID.class), rs.getString(2), rs.getString(3),
                        rs.getString(4), rs.getTimestamp(5).toInstant())).list());
        model.addAttribute("chart", utilizationChart());
        return "console/admin/dashboard";
    }

    /** Fleet-wide GPU utilization over the last 24 hours of samples, as an SVG polyline. */
    private Chart utilizationChart() {
        List<double[]> points = jdbc.sql("""
                SELECT extract(epoch FROM sampled_at) AS t,
                       CASE WHEN sum(total) = 0 THEN 0 ELSE sum(allocated)::float8 / sum(total) END AS u
                  FROM reporting.utilization_sample
                 WHERE sampled_at > now() - interval '24 hours'
                 GROUP BY sampled_at ORDER BY sampled_at
                """).query((rs, n) -> new double[] {rs.getDouble(1), rs.getDouble(2)}).list();
        return Chart.of(points);
    }

    /** A line chart of values in [0, 1] drawn into a 600 × 160 viewBox. */
    record Chart(String line, String area, int samples, String latest, String from, String to) {

        static final int W = 600;
        static final int H = 160;

        static Chart of(List<double[]> points) {
            if (points.size() < 2) {
                String latest = points.isEmpty() ? "–" : percent(points.get(0)[1]);
                return new Chart("", "", points.size(), latest, "", "");
            }
            double t0 = points.get(0)[0];
            double span = Math.max(1, points.get(points.size() - 1)[0] - t0);
            List<String> xy = new ArrayList<>(points.size());
            for (double[] p : points) {
                double x = (p[0] - t0) / span * W;
                double y = H - Math.max(0, Math.min(1, p[1])) * (H - 10);
                xy.add(String.format(java.util.Locale.ROOT, "%.1f,%.1f", x, y));
            }
            String line = String.join(" ", xy);
            String area = "0," + H + " " + line + " " + W + "," + H;
            return new Chart(line, area, points.size(), percent(points.get(points.size() - 1)[1]),
                    time(points.get(0)[0]), time(points.get(points.size() - 1)[0]));
        }

        private static String percent(double v) {
            return Math.round(v * 1000) / 10.0 + " %";
        }

        private static String time(double epochSeconds) {
            return Consoles.TIME.format(Instant.ofEpochSecond((long) epochSeconds));
        }
    }

}
