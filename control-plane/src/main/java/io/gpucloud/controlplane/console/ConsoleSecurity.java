package io.gpucloud.controlplane.console;

import io.gpucloud.controlplane.tenancy.Users;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.annotation.Order;
import org.springframework.security.authentication.LockedException;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.config.http.SessionCreationPolicy;
import org.springframework.security.core.userdetails.UserDetailsService;
import org.springframework.security.core.userdetails.UsernameNotFoundException;
import org.springframework.security.crypto.argon2.Argon2PasswordEncoder;
import org.springframework.security.crypto.password.DelegatingPasswordEncoder;
import org.springframework.security.crypto.password.PasswordEncoder;
import org.springframework.security.web.SecurityFilterChain;

/**
 * Two worlds share one server. The console ({@code /console/**}, {@code /login}) is for people:
 * form sign-in, a server-side session, CSRF tokens on every form and htmx request, a strict
 * content security policy. The APIs are for programs: bearer tokens checked by
 * {@link io.gpucloud.controlplane.web.BearerAuthFilter}, no session, no CSRF (no cookies to ride).
 */
@Configuration
class ConsoleSecurity {

    static final String CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'";

    /**
     * Argon2id (the OWASP first choice) with Spring Security's 5.8 parameters: 16 MiB, 2 passes.
     * Stored as {@code {argon2}...} so a later change of algorithm re-hashes without a migration.
     */
    @Bean
    PasswordEncoder passwordEncoder() {
        String id = "argon2";
        return new DelegatingPasswordEncoder(id, Map.of(id, Argon2PasswordEncoder.defaultsForSpringSecurity_v5_8()));
    }

    /**
     * No Micrometer observations of Spring Security's own filters, filter chains and authorization
     * decisions. With them every request (the host workers' long polls, results and heartbeats
     * included) started and stopped an observation, with its timer and long-task timer, around each
     * of the chain's dozen filters; that was the largest single item on the request threads in the
     * provisioning benchmark's profile (docs/benchmarks.md "Provisioning overhead"). Requests are still
     * timed as a whole by {@code http.server.requests}.
     */
    @Bean
    static org.springframework.security.config.observation.SecurityObservationSettings securityObservationSettings() {
        return org.springframework.security.config.observation.SecurityObservationSettings.noObservations();
    }

    @Bean
    UserDetailsService consoleUsers(Users users) {
        return email -> users.credentials(email)
                .filter(c -> c.passwordHash() != null)
                .map(ConsoleUser::new)
                .orElseThrow(() -> new UsernameNotFoundException("no such user"));
    }

    @Bean
    @Order(1)
    SecurityFilterChain console(HttpSecurity http, Users users,
                                @Value("${gpucloud.console.max-failed-sign-ins:10}") int maxFailures,
                                @Value("${gpucloud.console.lockout:5m}") Duration lockout) throws Exception {
        http.securityMatcher("/console", "/console/**", "/login", "/logout")
                .authorizeHttpRequests(a -> a
                        .requestMatchers("/login", "/console/denied").permitAll()
                        .requestMatchers("/console/admin", "/console/admin/**").hasRole("ADMIN")
                        .requestMatchers("/console/projects/**").hasRole("CUSTOMER")
                        .anyRequest().authenticated())
                .formLogin(f -> f.loginPage("/login").usernameParameter("email").passwordParameter("password")
                        .successHandler((request, response, authentication) -> {
                            users.recordSuccess(((ConsoleUser) authentication.getPrincipal()).user().id());
                            response.sendRedirect(request.getContextPath() + "/console");
                        })
                        .failureHandler((request, response, exception) -> {
                            if (!(exception instanceof LockedException)) {
                                users.recordFailure(request.getParameter("email"), maxFailures, lockout);
                            }
                            redirect(request, response, exception instanceof LockedException
                                    ? "/login?locked" : "/login?error");
                        })
                        .permitAll())
                .addFilterAfter(new ActiveUserFilter(users),
                        org.springframework.security.web.context.SecurityContextHolderFilter.class)
                .logout(l -> l.logoutUrl("/logout").logoutSuccessUrl("/login?signedOut"))
                .exceptionHandling(e -> e.accessDeniedPage("/console/denied"))
                .headers(h -> h.contentSecurityPolicy(c -> c.policyDirectives(CSP)));
        return http.build();
    }

    private static void redirect(HttpServletRequest request, jakarta.servlet.http.HttpServletResponse response,
                                 String path) throws IOException {
        response.sendRedirect(request.getContextPath() + path);
    }

    @Bean
    @Order(2)
    SecurityFilterChain apis(HttpSecurity http) throws Exception {
        http.securityMatcher("/**")
                .authorizeHttpRequests(a -> a.anyRequest().permitAll())
                .csrf(c -> c.disable())
                .sessionManagement(s -> s.sessionCreationPolicy(SessionCreationPolicy.STATELESS))
                .requestCache(r -> r.disable())
                .formLogin(f -> f.disable())
                .httpBasic(b -> b.disable())
                .logout(l -> l.disable());
        return http.build();
    }
}
