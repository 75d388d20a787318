package io.gpucloud.controlplane.console;

import io.gpucloud.controlplane.tenancy.Users;
import java.util.List;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.stereotype.Controller;
import org.springframework.web.bind.annotation.GetMapping;

/** Sign-in, the landing redirect (operators to the fleet, customers to their project) and the denied page. */
@Controller
class ConsoleController {

    private final Users users;

    ConsoleController(Users users) {
        this.users = users;
    }

    @GetMapping("/login")
    String login() {
        return "console/login";
    }

    @GetMapping("/console")
    String home(@AuthenticationPrincipal ConsoleUser me) {
        if (me.user().admin()) {
            return "redirect:/console/admin";
        }
        List<Users.ProjectRef> projects = users.projectsOf(me.user());
        if (projects.isEmpty()) {
            return "console/no-project";
        }
        return "redirect:/console/projects/" + projects.get(0).id();
    }

    // any method: a refused POST (missing CSRF token) is forwarded here too
    @org.springframework.web.bind.annotation.RequestMapping("/console/denied")
    String denied(jakarta.servlet.http.HttpServletResponse response) {
        response.setStatus(403);
        return "console/denied";
    }
}
