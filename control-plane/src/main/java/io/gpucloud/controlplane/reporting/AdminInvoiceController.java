package io.gpucloud.controlplane.reporting;

import org.springframework.http.HttpHeaders;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/** Every project's invoice for a month ({@code ?month=YYYY-MM}, current month to date by default); JSON or CSV. */
@RestController
@RequestMapping("/admin/api/v1/invoices")
class AdminInvoiceController {

    private final Invoices invoices;

    AdminInvoiceController(Invoices invoices) {
        this.invoices = invoices;
    }

    @GetMapping
    ResponseEntity<?> invoices(@RequestParam(required = false) String month,
                               @RequestParam(required = false) String format,
                               @RequestHeader(value = HttpHeaders.ACCEPT, required = false) String accept) {
        boolean asCsv = Invoices.wantsCsv(format, accept);
        Invoices.AllInvoices all = invoices.all(Invoices.parseMonth(month));
        return invoices.respond(all, all.invoices(), "invoices-" + all.month(), asCsv);
    }
}
