package io.gpucloud.controlplane.api;

import io.gpucloud.controlplane.reporting.Invoices;
import io.gpucloud.controlplane.tenancy.Principal;
import java.util.List;
import org.springframework.http.HttpHeaders;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestAttribute;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/** The calling project's invoice for a month ({@code ?month=YYYY-MM}, current month to date by default). */
@RestController
@RequestMapping("/api/v1")
class InvoiceController {

    private final Invoices invoices;

    InvoiceController(Invoices invoices) {
        this.invoices = invoices;
    }

    @GetMapping("/invoices")
    ResponseEntity<?> invoice(@RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal caller,
                              @RequestParam(required = false) String month,
                              @RequestParam(required = false) String format,
                              @RequestHeader(value = HttpHeaders.ACCEPT, required = false) String accept) {
        boolean asCsv = Invoices.wantsCsv(format, accept);
        Invoices.Invoice invoice = invoices.forProject(caller.projectId(), Invoices.parseMonth(month));
        return invoices.respond(invoice, List.of(invoice), "invoice-" + invoice.month(), asCsv);
    }
}
