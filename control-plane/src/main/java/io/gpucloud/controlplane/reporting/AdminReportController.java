package io.gpucloud.controlplane.reporting;

import io.gpucloud.controlplane.web.ApiException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import tools.jackson.dataformat.csv.CsvMapper;
import tools.jackson.dataformat.csv.CsvSchema;

/**
 * Operator reports over the {@code reporting} views. JSON ({@code {"report", "columns", "items"}},
 * camelCase keys) by default; CSV (snake_case header, the view's column names) with
 * {@code Accept: text/csv} or {@code ?format=csv}. Admin tokens only (BearerAuthFilter guards /admin/api).
 */
@RestController
@RequestMapping("/admin/api/v1/reports")
class AdminReportController {

    static final MediaType TEXT_CSV = new MediaType("text", "csv", java.nio.charset.StandardCharsets.UTF_8);

    private final Reports reports;
    private final CsvMapper csv = CsvMapper.builder().build();

    AdminReportController(Reports reports) {
        this.reports = reports;
    }

    @GetMapping
    Map<String, List<String>> index() {
        return Map.of("reports", Reports.names());
    }

    @GetMapping("/{report}")
    ResponseEntity<?> report(@PathVariable String report, @RequestParam(required = false) String format,
                             @RequestHeader(value = HttpHeaders.ACCEPT, required = false) String accept) {
        boolean asCsv;
        if (format == null) {
            asCsv = accept != null && accept.toLowerCase().contains("text/csv");
        } else if (format.equals("csv") || format.equals("json")) {
            asCsv = format.equals("csv");
        } else {
            throw ApiException.badRequest("format", "Unknown format '" + format + "'; one of [csv, json].");
        }
        Reports.Table table = reports.run(report).orElseThrow(() -> new ApiException(HttpStatus.NOT_FOUND,
                "not-found", "Report not found",
                "No report named '" + report + "'; one of " + Reports.names() + ".", Map.of()));
        if (asCsv) {
            return ResponseEntity.ok().contentType(TEXT_CSV)
                    .header(HttpHeaders.CONTENT_DISPOSITION, "inline; filename=\"" + report + ".csv\"")
                    .body(toCsv(table));
        }
        List<Map<String, Object>> items = table.rows().stream().map(r -> Reports.asJsonRow(table.columns(), r))
                .toList();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("report", report);
        body.put("columns", table.columns().stream().map(Reports::camel).toList());
        body.put("items", items);
        return ResponseEntity.ok().contentType(MediaType.APPLICATION_JSON).body(body);
    }

    private String toCsv(Reports.Table table) {
        CsvSchema.Builder schema = CsvSchema.builder();
        table.columns().forEach(schema::addColumn);
        StringBuilder out = new StringBuilder(String.join(",", table.columns())).append('\n');
        List<String[]> rows = table.rows().stream()
                .map(r -> r.stream().map(v -> v == null ? "" : v.toString()).toArray(String[]::new)).toList();
        if (!rows.isEmpty()) {
            out.append(csv.writer(schema.build().withoutHeader()).writeValueAsString(rows));
        }
        return out.toString();
    }
}
