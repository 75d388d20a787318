package io.gpucloud.controlplane.tenancy;

import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/** Tenants and projects. The customer API (a later slice) builds on this. */
@Service
public class Projects {

    private final JdbcClient jdbc;

    public Projects(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    /** Finds or creates tenant {@code tenantName} with project {@code projectName}; returns the project id. */
    @Transactional
    public UUID ensureProject(String tenantName, String projectName) {
        // almost always there already (every admin-made VM asks): one read instead of two upserts and two reads
        var existing = jdbc.sql("""
                SELECT p.id FROM project p JOIN tenant t ON t.id = p.tenant_id WHERE t.name = ? AND p.name = ?
                """).params(tenantName, projectName).query(UUID.class).optional();
        if (existing.isPresent()) {
            return existing.get();
        }
        jdbc.sql("INSERT INTO tenant (id, name) VALUES (?, ?) ON CONFLICT (name) DO NOTHING")
                .params(UUID.randomUUID(), tenantName).update();
        UUID tenantId = jdbc.sql("SELECT id FROM tenant WHERE name = ?").param(tenantName)
                .query(UUID.class).single();
        jdbc.sql("INSERT INTO project (id, tenant_id, name) VALUES (?, ?, ?) ON CONFLICT (tenant_id, name) DO NOTHING")
                .params(UUID.randomUUID(), tenantId, projectName).update();
        return jdbc.sql("SELECT id FROM project WHERE tenant_id = ? AND name = ?").params(tenantId, projectName)
                .query(UUID.class).single();
    }
}
