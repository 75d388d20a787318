package io.gpucloud.controlplane.console;

import io.gpucloud.controlplane.inventory.HostRegistry;
import io.gpucloud.controlplane.tenancy.AuditLog;
import io.gpucloud.controlplane.web.ApiException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.stereotype.Controller;
import org.springframework.ui.Model;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.servlet.mvc.support.RedirectAttributes;

/**
 * The operator's fleet nodes: the filterable list, one node's board (GPU cards, NVLink partition
 * tree, NUMA nodes, PCIe switches) and the drain / undrain / maintenance actions, which go through
 * {@link HostRegistry#applyAdminAction} like {@code POST /admin/api/v1/hosts/{id}/{action}}.
 */
@Controller
class NodesController {

    private static final Logger log = LoggerFactory.getLogger(NodesController.class);

    private final NodeQueries queries;
    private final HostRegistry registry;
    private final AuditLog audit;

    private final io.gpucloud.controlplane.virtualization.VirtualizationModes virtualization;

    NodesController(NodeQueries queries, HostRegistry registry, AuditLog audit,
                    io.gpucloud.controlplane.virtualization.VirtualizationModes virtualization) {
        this.virtualization = virtualization;
        this.queries = queries;
        this.registry = registry;
        this.audit = audit;
    }

    @GetMapping("/console/admin/hosts")
    String list(@RequestParam Optional<String> state, @RequestParam Optional<String> gpuModel,
                @RequestParam Optional<String> location, @RequestParam Optional<String> q,
                @RequestParam(defaultValue = "1") String page, Model model) {
        String s = state.filter(NodeQueries.HOST_STATES::contains).orElse(null);
        NodeQueries.HostFilter filter = new NodeQueries.HostFilter(s, gpuModel.orElse(null), location.orElse(null),
                q.orElse(null));
        model.addAttribute("filter", filter);
        model.addAttribute("hosts", queries.hosts(filter, pageNumber(page)));
        model.addAttribute("pageBase", pageBase("/console/admin/hosts", "state", s, "gpuModel", filter.gpuModel(),
                "location", filter.location(), "q", filter.q()));
        model.addAttribute("states", NodeQueries.HOST_STATES);
        model.addAttribute("models", queries.hostModels());
        model.addAttribute("locations", queries.locations());
        return "console/admin/hosts";
    }

    @GetMapping("/console/admin/hosts/{id}")
    String detail(@PathVariable String id, Model model, HttpServletResponse response) {
        NodeQueries.Node node = queries.node(hostId(id)).orElseThrow(() -> noNode(id));
        model.addAttribute("node", node);
        model.addAttribute("host", node.host());
        model.addAttribute("hostId", node.host().id());
        model.addAttribute("virtualizationCatalog", virtualization.catalog(node.host().id()));
        return "console/admin/host";
    }

    @PostMapping("/console/admin/hosts/{id}/{action:drain|undrain|maintenance}")
    String act(@PathVariable String id, @PathVariable String action,
               @RequestParam Optional<String> reason, @AuthenticationPrincipal ConsoleUser me,
               HttpServletRequest request, RedirectAttributes flash) {
        UUID host = hostId(id);
        String why = reason.filter(r -> !r.isBlank()).map(String::strip).orElse(null);
        String result;
        int status;
        try {
            registry.applyAdminAction(host, action, why);
            flash.addFlashAttribute("flash", switch (action) {
                case "drain" -> "Draining: no new VMs are placed on this node; running ones stay.";
                case "maintenance" -> "The node is in maintenance.";
                default -> "The node is ready again and takes new VMs.";
            });
            result = "succeeded";
            status = 303;
        } catch (ApiException e) {
            if (e.status().value() == 404) {
                throw noNode(id);
            }
            flash.addFlashAttribute("flashError", e.getMessage());
            result = "rejected";
            status = e.status().value();
        }
        record(me, "host." + action, host, request, result, status, why, null);
        return "redirect:/console/admin/hosts/" + host;
    }

    /** A suspect or quarantined GPU an operator checked goes back into service (as the admin API's action). */
    @PostMapping("/console/admin/hosts/{id}/devices/{bdf}/return-to-service")
    String returnToService(@PathVariable String id, @PathVariable String bdf,
                           @RequestParam Optional<String> reason, @AuthenticationPrincipal ConsoleUser me,
                           HttpServletRequest request, RedirectAttributes flash) {
        UUID host = hostId(id);
        queries.node(host).orElseThrow(() -> noNode(id));
        String why = reason.filter(r -> !r.isBlank()).map(String::strip).orElse(null);
        String result;
        int status;
        try {
            registry.returnToService(host, bdf, why);
            flash.addFlashAttribute("flash", "GPU " + bdf + " is back in service: placement gives it to VMs again.");
            result = "succeeded";
            status = 303;
        } catch (ApiException e) {
            flash.addFlashAttribute("flashError", e.getMessage());
            result = "rejected";
            status = e.status().value();
        }
        record(me, "device.return-to-service", host, request, result, status, why, bdf);
        return "redirect:/console/admin/hosts/" + host;
    }

    // refused and failed attempts are recorded as well as successes; a failure to record is logged, not shown
    private void record(ConsoleUser me, String action, UUID host, HttpServletRequest request, String result,
                        int status, String reason, String device) {
        try {
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("status", status);
            detail.put("method", "POST");
            detail.put("path", request.getRequestURI());
            if (device != null) {
                detail.put("device", device);
            }
            if (reason != null) {
                detail.put("reason", reason);
            }
            audit.record(new AuditLog.Event(me.asAdmin(), action, "host", host.toString(),
                    request.getRemoteAddr(), result, detail));
        } catch (RuntimeException e) {
            log.error("Could not write the audit event for {} of host {}", action, host, e);
        }
    }

    private static UUID hostId(String id) {
        try {
            return UUID.fromString(id);
        } catch (IllegalArgumentException e) {
            throw noNode(id);
        }
    }

    private static VmPages.NotFound noNode(String id) {
        return new VmPages.NotFound("No node with id " + id + ".");
    }

    /** The list's URL with its filters, ending in {@code page=} so templates append the page number. */
    static String pageBase(String path, String... namesAndValues) {
        org.springframework.web.util.UriComponentsBuilder b =
                org.springframework.web.util.UriComponentsBuilder.fromPath(path);
        for (int i = 0; i < namesAndValues.length; i += 2) {
            String v = namesAndValues[i + 1];
            if (v != null && !v.isBlank()) {
                b.queryParam(namesAndValues[i], v.strip());
            }
        }
        String url = b.encode().build().toUriString();
        return url + (url.contains("?") ? "&" : "?") + "page=";
    }

    static int pageNumber(String page) {
        try {
            return Math.max(1, Math.min(1_000_000, Integer.parseInt(page.strip())));
        } catch (NumberFormatException e) {
            return 1;
        }
    }
}
