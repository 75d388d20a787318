package io.gpucloud.controlplane.tenancy;

import io.gpucloud.controlplane.web.ApiException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/**
 * Tenants and their projects as operators manage them (the admin tenancy API). Names are unique:
 * tenants globally, projects within their tenant; a duplicate is a 409.
 */
@Service
public class Tenants {

    /** 1-100 letters, digits, spaces, '.', '_' or '-', starting and ending with a letter or digit. */
    public static final Pattern NAME = Pattern.compile("^[A-Za-z0-9]([A-Za-z0-9 ._-]{0,98}[A-Za-z0-9])?$");

    private final JdbcClient jdbc;

    public Tenants(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    public record Tenant(UUID id, String name, Instant createdAt, int projectCount) {
    }

    public record Project(UUID id, UUID tenantId, String tenantName, String name, Instant createdAt) {
    }

    @Transactional
    public Tenant createTenant(String name) {
        checkName(name);
        UUID id = UUID.randomUUID();
        try {
            jdbc.sql("INSERT INTO tenant (id, name) VALUES (?, ?)").params(id, name).update();
        } catch (DuplicateKeyException e) {
            throw ApiException.conflict("tenant-name-taken", "A tenant named '" + name + "' already exists.");
        }
        return tenant(id);
    }

    public List<Tenant> tenants() {
        return jdbc.sql(TENANTS + " ORDER BY t.created_at, t.id").query((rs, n) -> tenant(rs)).list();
    }

    public Tenant tenant(UUID id) {
        return jdbc.sql(TENANTS + " WHERE t.id = ?").param(id).query((rs, n) -> tenant(rs)).optional()
                .orElseThrow(() -> ApiException.notFound("Tenant", id));
    }

    @Transactional
    public Project createProject(UUID tenantId, String name) {
        tenant(tenantId);
        checkName(name);
        UUID id = UUID.randomUUID();
        try {
            jdbc.sql("INSERT INTO project (id, tenant_id, name) VALUES (?, ?, ?)").params(id, tenantId, name).update();
        } catch (DuplicateKeyException e) {
            throw ApiException.conflict("project-name-taken",
                    "The tenant already has a project named '" + name + "'.");
        }
        return project(id);
    }

    public List<Project> projects(UUID tenantId) {
        tenant(tenantId);
        return jdbc.sql(PROJECTS + " WHERE p.tenant_id = ? ORDER BY p.created_at, p.id").param(tenantId)
                .query((rs, n) -> project(rs)).list();
    }

    public Project project(UUID id) {
        return findProject(id).orElseThrow(() -> ApiException.notFound("Project", id));
    }

    public Optional<Project> findProject(UUID id) {
        return jdbc.sql(PROJECTS + " WHERE p.id = ?").param(id).query((rs, n) -> project(rs)).optional();
    }

    private static void checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw ApiException.badRequest("name", "name must be 1-100 letters, digits, spaces, '.', '_' or '-', "
                    + "starting and ending with a letter or digit.");
        }
    }

    private static final String TENANTS = """
            SELECT t.id, t.name, t.created_at, (SELECT count(*) FROM project p WHERE p.tenant_id = t.id) AS projects
              FROM tenant t
            """;

    private static final String PROJECTS = """
            SELECT p.id, p.tenant_id, t.name AS tenant_name, p.name, p.created_at
              FROM project p JOIN tenant t ON t.id = p.tenant_id
            """;

    private static Tenant tenant(ResultSet rs) throws SQLException {
        return new Tenant(rs.getObject("id", UUID.class), rs.getString("name"),
                rs.getTimestamp("created_at").toInstant(), rs.getInt("projects"));
    }

    private static Project project(ResultSet rs) throws SQLException {
        return new Project(rs.getObject("id", UUID.class), rs.getObject("tenant_id", UUID.class),
                rs.getString("tenant_name"), rs.getString("name"), rs.getTimestamp("created_at").toInstant());
    }
}
