package io.gpucloud.controlplane.console;

import io.gpucloud.controlplane.tenancy.Users;
import jakarta.servlet.http.HttpServletRequest;
import java.util.List;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.context.SecurityContextHolder;
import org.springframework.web.bind.annotation.ControllerAdvice;
import org.springframework.web.bind.annotation.ModelAttribute;

/**
 * What every console page's layout needs: who is signed in, the projects they can switch to and
 * the current path (to mark the active navigation entry). Also turns {@link VmPages.NotFound} and
 * {@link VmPages.Refused} thrown by any console controller into the 404 and 403 pages.
 */
@ControllerAdvice(assignableTypes = {ConsoleController.class}, basePackageClasses = ConsoleModel.class)
class ConsoleModel {

    private final Users users;

    ConsoleModel(Users users) {
        this.users = users;
    }

    @ModelAttribute("me")
    Users.User me() {
        ConsoleUser u = current();
        return u == null ? null : u.user();
    }

    @ModelAttribute("myProjects")
    List<Users.ProjectRef> myProjects() {
        ConsoleUser u = current();
        return u == null || u.user().admin() ? List.of() : users.projectsOf(u.user());
    }

    @ModelAttribute("path")
    String path(HttpServletRequest request) {
        return request.getRequestURI();
    }

    @org.springframework.web.bind.annotation.ExceptionHandler(VmPages.NotFound.class)
    String notFound(VmPages.NotFound e, jakarta.servlet.http.HttpServletResponse response,
                    org.springframework.ui.Model model) {
        response.setStatus(404);
        model.addAttribute("message", e.getMessage());
        return "console/not-found";
    }

    @org.springframework.web.bind.annotation.ExceptionHandler(VmPages.Refused.class)
    String refused(jakarta.servlet.http.HttpServletResponse response) {
        response.setStatus(403);
        return "console/denied";
    }

    private static ConsoleUser current() {
        Authentication a = SecurityContextHolder.getContext().getAuthentication();
        return a != null && a.getPrincipal() instanceof ConsoleUser u ? u : null;
    }
}
