package io.gpucloud.controlplane.console;

import java.util.List;
import java.util.Optional;
import org.springframework.stereotype.Controller;
import org.springframework.ui.Model;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;

/** Every GPU card in the fleet, filterable by model, health, held/free and host name. */
@Controller
class GpusController {

    private final NodeQueries queries;

    GpusController(NodeQueries queries) {
        this.queries = queries;
    }

    @GetMapping("/console/admin/gpus")
    String list(@RequestParam Optional<String> model, @RequestParam Optional<String> health,
                @RequestParam Optional<String> holding, @RequestParam Optional<String> host,
                @RequestParam(defaultValue = "1") String page, Model m) {
        NodeQueries.GpuFilter filter = new NodeQueries.GpuFilter(model.orElse(null),
                health.filter(NodeQueries.HEALTHS::contains).orElse(null),
                holding.filter(List.of("held", "free")::contains).orElse(null), host.orElse(null));
        m.addAttribute("filter", filter);
        m.addAttribute("gpus", queries.gpus(filter, NodesController.pageNumber(page)));
        m.addAttribute("pageBase", NodesController.pageBase("/console/admin/gpus", "model", filter.model(),
                "health", filter.health(), "holding", filter.holding(), "host", filter.host()));
        m.addAttribute("models", queries.gpuModels());
        m.addAttribute("healths", NodeQueries.HEALTHS);
        return "console/admin/gpus";
    }
}
