package io.gpucloud.controlplane.console;

import io.gpucloud.controlplane.tenancy.Users;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpSession;
import java.io.IOException;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.context.SecurityContextHolder;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Ends the session of a user who was disabled after signing in, at their next request, on whichever
 * instance holds the session: the database says who is active, not the session. One primary-key
 * lookup per console request.
 */
final class ActiveUserFilter extends OncePerRequestFilter {

    static final String SIGNED_OUT_PATH = "/login?disabled";

    private final Users users;

    ActiveUserFilter(Users users) {
        this.users = users;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        Authentication auth = SecurityContextHolder.getContext().getAuthentication();
        if (auth != null && auth.getPrincipal() instanceof ConsoleUser user && !users.active(user.user().id())) {
            SecurityContextHolder.clearContext();
            HttpSession session = request.getSession(false);
            if (session != null) {
                session.invalidate();
            }
            String target = request.getContextPath() + SIGNED_OUT_PATH;
            if (request.getHeader("HX-Request") != null) {
                response.setHeader("HX-Redirect", target); // htmx navigates the whole page, not a fragment
                response.setStatus(HttpServletResponse.SC_UNAUTHORIZED);
                return;
            }
            response.sendRedirect(target);
            return;
        }
        chain.doFilter(request, response);
    }
}
