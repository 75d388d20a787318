-- Customer API: SSH keys, idempotent VM creation, and the keys a VM was created with.

CREATE TABLE ssh_key (
    id           uuid PRIMARY KEY,
    project_id   uuid        NOT NULL REFERENCES project (id),
    name         text        NOT NULL,
    public_key   text        NOT NULL,
    fingerprint  text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

-- One row per (project, Idempotency-Key). request_hash is the SHA-256 of the canonical request:
-- a replay with the same body returns vm_id, a different body is a conflict. The row is written
-- in the same transaction as the VM, so a concurrent duplicate waits on the key and then sees it.
CREATE TABLE idempotency_key (
    project_id    uuid        NOT NULL REFERENCES project (id),
    key           text        NOT NULL,
    request_hash  text        NOT NULL,
    vm_id         uuid        REFERENCES vm (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, key)
);

-- What the customer asked to be installed into the guest (the simulator does not boot guests).
ALTER TABLE vm ADD COLUMN ssh_public_keys text[] NOT NULL DEFAULT '{}';

-- Keyset pagination of a project's VMs, newest first.
CREATE INDEX vm_project_created_idx ON vm (project_id, created_at DESC, id DESC);
CREATE INDEX audit_event_target_idx ON audit_event (target_type, target_id);

-- Customer-initiated events carry their project so a project's own audit trail is one index probe.
ALTER TABLE audit_event ADD COLUMN project_id uuid REFERENCES project (id);
CREATE INDEX audit_event_project_idx ON audit_event (project_id, at DESC) WHERE project_id IS NOT NULL;
