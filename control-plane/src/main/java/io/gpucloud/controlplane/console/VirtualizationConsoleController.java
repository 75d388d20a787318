package io.gpucloud.controlplane.console;

import io.gpucloud.controlplane.virtualization.VirtualizationModes;
import io.gpucloud.controlplane.web.ApiException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.stereotype.Controller;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.servlet.mvc.support.RedirectAttributes;

/**
 * The node page's "Set virtualization mode" dialog posts here. The node header shows the status
 * ("Switching" refreshes itself until "Ready" or "Switch Failed" with the reason).
 */
@Controller
class VirtualizationConsoleController {

    private final VirtualizationModes modes;

    VirtualizationConsoleController(VirtualizationModes modes) {
        this.modes = modes;
    }

    @PostMapping("/console/admin/hosts/{hostId}/virtualization")
    String switchMode(@PathVariable UUID hostId, @RequestParam(required = false) String mode,
                      @RequestParam Map<String, String> form, @AuthenticationPrincipal ConsoleUser me,
                      RedirectAttributes flash) {
        try {
            modes.requestSwitch(hostId, mode, params(mode, form), me.asAdmin());
            flash.addFlashAttribute("flash", "Switching to " + mode + ": the node shows Ready or Switch Failed when done.");
        } catch (ApiException e) {
            if (e.status().value() == 404) {
                throw e;
            }
            flash.addFlashAttribute("flashError", "Cannot switch: " + e.getMessage());
        }
        return "redirect:/console/admin/hosts/" + hostId;
    }

    /**
     * The dialog's fields are named {@code <mode>.<param>}; only the chosen mode's are sent (the
     * others are disabled). Numbers go to the service as numbers, anything unparsable as the text
     * typed, so the service's validation names the field and says what is wrong.
     */
    static Map<String, Object> params(String mode, Map<String, String> form) {
        Map<String, Object> params = new LinkedHashMap<>();
        if (mode == null) {
            return params;
        }
        String prefix = mode + ".";
        for (Map.Entry<String, String> e : form.entrySet()) {
            if (!e.getKey().startsWith(prefix) || e.getValue() == null || e.getValue().isBlank()) {
                continue;
            }
            String name = e.getKey().substring(prefix.length());
            String value = e.getValue().trim();
            if ("profiles".equals(name)) {
                params.put(name, list(value));
            } else {
                params.put(name, number(value));
            }
        }
        return params;
    }

    private static Object list(String value) {
        List<Object> items = new ArrayList<>();
        for (String part : value.split("[,\\s]+")) {
            if (!part.isEmpty()) {
                items.add(number(part));
            }
        }
        return items;
    }

    private static Object number(String value) {
        try {
            return Integer.valueOf(value);
        } catch (NumberFormatException notInt) {
            try {
                return Double.valueOf(value);
            } catch (NumberFormatException notNumber) {
                return value;
            }
        }
    }
}
