package io.gpucloud.controlplane.tenancy;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.annotation.Profile;
import org.springframework.context.event.EventListener;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * A fresh installation has no way in: mint one admin token and one admin console user on first
 * start and print their secrets once. Later starts print nothing (only hashes are stored).
 */
@Component
@Profile("!demo")
class InitialAdminToken {

    private static final Logger log = LoggerFactory.getLogger(InitialAdminToken.class);

    private final JdbcClient jdbc;
    private final TokenService tokens;
    private final Users users;
    private final String adminEmail;
    private final String adminPassword;

    InitialAdminToken(JdbcClient jdbc, TokenService tokens, Users users,
                      @org.springframework.beans.factory.annotation.Value("${gpucloud.console.initial-admin-email:admin@gpucloud.local}") String adminEmail,
                      @org.springframework.beans.factory.annotation.Value("${gpucloud.console.initial-admin-password:}") String adminPassword) {
        this.jdbc = jdbc;
        this.tokens = tokens;
        this.users = users;
        this.adminEmail = adminEmail;
        this.adminPassword = adminPassword;
    }

    @EventListener(ApplicationReadyEvent.class)
    void mintIfNone() {
        long admins = jdbc.sql("SELECT count(*) FROM api_token WHERE kind = 'admin' AND revoked_at IS NULL")
                .query(Long.class).single();
        if (admins == 0) {
            var issued = tokens.issueAdminToken("initial-admin");
            log.warn("No admin token existed; created one. It is shown only now: {}", issued.token());
        }
        long adminUsers = jdbc.sql("SELECT count(*) FROM app_user WHERE role = 'admin' AND disabled_at IS NULL")
                .query(Long.class).single();
        if (adminUsers == 0) {
            String password = adminPassword.isBlank() ? Tokens.password(20) : adminPassword;
            users.create(adminEmail, "Initial admin", password, "admin", null);
            if (adminPassword.isBlank()) {
                log.warn("No console admin existed; created {} with password (shown only now): {}", adminEmail, password);
            } else {
                log.warn("No console admin existed; created {} with the configured initial password", adminEmail);
            }
        }
    }
}
