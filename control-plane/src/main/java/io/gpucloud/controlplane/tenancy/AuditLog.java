package io.gpucloud.controlplane.tenancy;

import java.util.Map;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import tools.jackson.databind.json.JsonMapper;

/** Who did what to which resource, from where, and how it ended; one row per mutating call. */
@Service
public class AuditLog {

    private final JdbcClient jdbc;
    private final JsonMapper json;

    public AuditLog(JdbcClient jdbc, JsonMapper json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    public record Event(Principal actor, String action, String targetType, String targetId, String sourceIp,
                        String result, Map<String, Object> detail) {
    }

    public void record(Event e) {
        String actor = e.actor() == null ? "anonymous"
                : e.actor().kind().name().toLowerCase() + ":" + e.actor().subjectId() + " (" + e.actor().name() + ")";
        UUID project = e.actor() == null ? null : e.actor().projectId();
        jdbc.sql("""
                INSERT INTO audit_event (actor, action, target_type, target_id, source_ip, result, detail, project_id)
                VALUES (?, ?, ?, ?, ?, ?, CAST(? AS jsonb), ?)
                """)
                .params(actor, e.action(), e.targetType(), e.targetId(), e.sourceIp(), e.result(),
                        json.writeValueAsString(e.detail()), project)
                .update();
    }
}
