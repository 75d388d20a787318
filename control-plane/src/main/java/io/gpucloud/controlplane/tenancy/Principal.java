package io.gpucloud.controlplane.tenancy;

import java.util.UUID;

/**
 * Who is calling, as established by a bearer credential.
 *
 * @param kind       admin, project, bootstrap (a worker registering) or host (a registered worker)
 * @param subjectId  token id, or host id for a host credential
 * @param projectId  set for project tokens only
 * @param name       for logs and audit
 */
public record Principal(Kind kind, UUID subjectId, UUID projectId, String name) {

    public enum Kind { ADMIN, PROJECT, BOOTSTRAP, HOST }

    public static final String REQUEST_ATTRIBUTE = "io.gpucloud.controlplane.tenancy.Principal";
}
