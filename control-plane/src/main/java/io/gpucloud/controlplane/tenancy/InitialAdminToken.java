package io.gpucloud.controlplane.tenancy;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.annotation.Profile;
import org.springframework.context.event.EventListener;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * A fresh installation has no way in: mint one admin token on first start and print it once.
 * Later starts print nothing (only the hash is stored).
 */
@Component
@Profile("!demo")
class InitialAdminToken {

    private static final Logger log = LoggerFactory.getLogger(InitialAdminToken.class);

    private final JdbcClient jdbc;
    private final TokenService tokens;

    InitialAdminToken(JdbcClient jdbc, TokenService tokens) {
        this.jdbc = jdbc;
        this.tokens = tokens;
    }

    @EventListener(ApplicationReadyEvent.class)
    void mintIfNone() {
        long admins = jdbc.sql("SELECT count(*) FROM api_token WHERE kind = 'admin' AND revoked_at IS NULL")
                .query(Long.class).single();
        if (admins == 0) {
            var issued = tokens.issueAdminToken("initial-admin");
            log.warn("No admin token existed; created one. It is shown only now: {}", issued.token());
        }
    }
}
