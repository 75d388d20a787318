package io.gpucloud.controlplane.api;

import io.gpucloud.controlplane.tenancy.Principal;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestAttribute;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/** The calling project's quotas and month-to-date usage. */
@RestController
@RequestMapping("/api/v1")
class UsageController {

    private final Usage usage;
    private final Quotas quotas;

    UsageController(Usage usage, Quotas quotas) {
        this.usage = usage;
        this.quotas = quotas;
    }

    /** {@code month=YYYY-MM} (UTC) for a past month; the current month to date by default. */
    @GetMapping("/usage")
    Usage.Report usage(@RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal caller,
                       @org.springframework.web.bind.annotation.RequestParam(required = false) String month) {
        java.time.YearMonth wanted = io.gpucloud.controlplane.reporting.Invoices.parseMonth(month);
        return usage.report(caller.projectId(), wanted);
    }

    @GetMapping("/quotas")
    Quotas.QuotaList quotas(@RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal caller) {
        return quotas.list(caller.projectId());
    }
}
