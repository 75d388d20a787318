package io.gpucloud.controlplane.console;

import io.gpucloud.controlplane.reporting.Invoices;
import io.gpucloud.controlplane.web.ApiException;
import java.math.BigDecimal;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.http.HttpHeaders;
import org.springframework.http.ResponseEntity;
import org.springframework.stereotype.Controller;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.ui.Model;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;

/**
 * The monthly billing report: every project's invoice for a month (lines per instance type, location
 * and rate in force), totals per tenant and the grand total, from {@link Invoices} (the same SQL as the
 * invoice API), and the same figures as a CSV download.
 */
@Controller
class BillingController {

    private final Invoices invoices;

    BillingController(Invoices invoices) {
        this.invoices = invoices;
    }

    record TenantBill(String tenantName, List<Invoices.Invoice> invoices, BigDecimal total) {
    }

    @GetMapping("/console/admin/billing")
    @Transactional(readOnly = true)
    String billing(@RequestParam(required = false) String month, Model model) {
        YearMonth current = YearMonth.now(ZoneOffset.UTC);
        YearMonth wanted;
        try {
            wanted = Invoices.parseMonth(month == null || month.isBlank() ? null : month.trim());
        } catch (ApiException e) {
            model.addAttribute("error", e.getMessage());
            wanted = current;
        }
        Invoices.AllInvoices all = invoices.all(wanted);
        Map<String, List<Invoices.Invoice>> byTenant = new LinkedHashMap<>();
        all.invoices().forEach(i -> byTenant.computeIfAbsent(i.tenantName(), k -> new ArrayList<>()).add(i));
        List<TenantBill> tenants = byTenant.entrySet().stream()
                .map(e -> new TenantBill(e.getKey(), e.getValue(),
                        e.getValue().stream().map(Invoices.Invoice::total).reduce(BigDecimal.ZERO, BigDecimal::add)))
                .toList();
        model.addAttribute("all", all);
        model.addAttribute("tenants", tenants);
        model.addAttribute("month", wanted.toString());
        model.addAttribute("previous", wanted.minusMonths(1).toString());
        model.addAttribute("next", wanted.isBefore(current) ? wanted.plusMonths(1).toString() : null);
        model.addAttribute("current", wanted.equals(current));
        return "console/admin/billing";
    }

    /** The same figures as the page, one row per invoice line, as an attachment. 400 (plain text) for a bad month. */
    @GetMapping("/console/admin/billing.csv")
    @Transactional(readOnly = true)
    ResponseEntity<String> csv(@RequestParam(required = false) String month) {
        YearMonth wanted;
        try {
            wanted = Invoices.parseMonth(month == null || month.isBlank() ? null : month.trim());
        } catch (ApiException e) {
            return ResponseEntity.badRequest().contentType(org.springframework.http.MediaType.TEXT_PLAIN)
                    .body(e.getMessage() + "\n");
        }
        Invoices.AllInvoices all = invoices.all(wanted);
        String name = "invoices-" + all.month();
        ResponseEntity<String> body = invoices.csv(all.invoices(), name);
        return ResponseEntity.ok().contentType(body.getHeaders().getContentType())
                .header(HttpHeaders.CONTENT_DISPOSITION, "attachment; filename=\"" + name + ".csv\"")
                .body(body.getBody());
    }
}
