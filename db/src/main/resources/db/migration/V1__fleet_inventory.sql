-- Fleet inventory: hosts and the hardware the host workers report.
-- Device rows are the single source of truth for who holds what; counters on host and numa_node
-- are caches of those rows, kept honest by CHECK constraints so an allocator bug fails loudly.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE host (
    id                     uuid PRIMARY KEY,
    name                   text        NOT NULL UNIQUE,
    location               text        NOT NULL DEFAULT 'default',
    state                  text        NOT NULL DEFAULT 'onboarding'
        CHECK (state IN ('onboarding', 'ready', 'draining', 'unreachable', 'maintenance', 'retired')),
    platform               text        NOT NULL
        CHECK (platform IN ('HGX_A100_8', 'HGX_A100_16', 'HGX_H100_8', 'HGX_H200_8', 'HGX_B200_8', 'PCIE_GPU', 'NO_GPU')),
    gpu_model              text,
    fabric_mode            text        NOT NULL CHECK (fabric_mode IN ('SHARED_NVSWITCH', 'FULL_PASSTHROUGH', 'NONE')),
    fabric_source          text        NOT NULL DEFAULT 'none',
    passthrough_capable    boolean     NOT NULL DEFAULT true,
    virtualization_mode    text        NOT NULL DEFAULT 'passthrough'
        CHECK (virtualization_mode IN ('passthrough', 'mig', 'hami', 'cambricon_dsmlu', 'cambricon_env_share')),
    virtualization_status  text        NOT NULL DEFAULT 'ready'
        CHECK (virtualization_status IN ('ready', 'switching', 'switch_failed')),
    virtualization_reason  text,
    virtualization_params  jsonb       NOT NULL DEFAULT '{}'::jsonb,
    -- healthy GPUs present and GPUs held by VMs: a cache of pci_device rows for candidate queries
    total_gpus             integer     NOT NULL DEFAULT 0 CHECK (total_gpus >= 0),
    used_gpus              integer     NOT NULL DEFAULT 0,
    total_cpus             integer     NOT NULL DEFAULT 0 CHECK (total_cpus >= 0),
    used_cpus              integer     NOT NULL DEFAULT 0,
    total_memory_mib       bigint      NOT NULL DEFAULT 0 CHECK (total_memory_mib >= 0),
    used_memory_mib        bigint      NOT NULL DEFAULT 0,
    total_hugepages_1g     integer     NOT NULL DEFAULT 0 CHECK (total_hugepages_1g >= 0),
    used_hugepages_1g      integer     NOT NULL DEFAULT 0,
    credential_hash        text,
    worker_version         text,
    problems               jsonb       NOT NULL DEFAULT '[]'::jsonb,
    registered_at          timestamptz NOT NULL DEFAULT now(),
    topology_reported_at   timestamptz,
    last_heartbeat_at      timestamptz,
    state_changed_at       timestamptz NOT NULL DEFAULT now(),
    state_reason           text,
    -- where an unreachable host returns to once its worker is heard again (draining stays draining)
    resume_state           text,
    CONSTRAINT host_gpus_within_total CHECK (used_gpus BETWEEN 0 AND total_gpus),
    CONSTRAINT host_cpus_within_total CHECK (used_cpus BETWEEN 0 AND total_cpus),
    CONSTRAINT host_memory_within_total CHECK (used_memory_mib BETWEEN 0 AND total_memory_mib),
    CONSTRAINT host_hugepages_within_total CHECK (used_hugepages_1g BETWEEN 0 AND total_hugepages_1g)
);
CREATE UNIQUE INDEX host_credential_hash_idx ON host (credential_hash) WHERE credential_hash IS NOT NULL;
CREATE INDEX host_state_model_idx ON host (state, gpu_model, location);

CREATE TABLE numa_node (
    host_id             uuid    NOT NULL REFERENCES host (id) ON DELETE CASCADE,
    node_id             integer NOT NULL CHECK (node_id >= 0),
    memory_mib          bigint  NOT NULL CHECK (memory_mib >= 0),
    total_cpus          integer NOT NULL CHECK (total_cpus >= 0),
    used_cpus           integer NOT NULL DEFAULT 0,
    hugepages_1g_total  integer NOT NULL DEFAULT 0 CHECK (hugepages_1g_total >= 0),
    hugepages_1g_used   integer NOT NULL DEFAULT 0,
    hugepages_2m_total  integer NOT NULL DEFAULT 0 CHECK (hugepages_2m_total >= 0),
    -- CPUs of this node held by VMs: a cache of cpu.vm_id so placement reads 2 rows per host, not 224
    held_cpus           integer[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (host_id, node_id),
    CONSTRAINT numa_held_cpus_counted CHECK (cardinality(held_cpus) = used_cpus),
    CONSTRAINT numa_cpus_within_total CHECK (used_cpus BETWEEN 0 AND total_cpus),
    CONSTRAINT numa_hugepages_within_total CHECK (hugepages_1g_used BETWEEN 0 AND hugepages_1g_total)
);

-- Tenancy comes before VMs because a VM belongs to a project.
CREATE TABLE tenant (
    id          uuid PRIMARY KEY,
    name        text        NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE project (
    id          uuid PRIMARY KEY,
    tenant_id   uuid        NOT NULL REFERENCES tenant (id),
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE TABLE app_user (
    id             uuid PRIMARY KEY,
    tenant_id      uuid REFERENCES tenant (id),
    email          text        NOT NULL UNIQUE,
    display_name   text,
    password_hash  text,
    role           text        NOT NULL CHECK (role IN ('admin', 'owner', 'member', 'viewer')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    disabled_at    timestamptz,
    -- admins are operators of the cloud, not members of a tenant
    CONSTRAINT user_admin_has_no_tenant CHECK ((role = 'admin') = (tenant_id IS NULL))
);

-- Bearer tokens. Only a SHA-256 hash is kept; the clear token is shown once at creation.
CREATE TABLE api_token (
    id            uuid PRIMARY KEY,
    kind          text        NOT NULL CHECK (kind IN ('admin', 'project', 'bootstrap')),
    name          text        NOT NULL,
    token_hash    text        NOT NULL UNIQUE,
    token_prefix  text        NOT NULL,
    user_id       uuid REFERENCES app_user (id),
    project_id    uuid REFERENCES project (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    CONSTRAINT token_project_scope CHECK ((kind = 'project') = (project_id IS NOT NULL))
);

CREATE TABLE vm (
    id             uuid PRIMARY KEY,
    project_id     uuid        NOT NULL REFERENCES project (id),
    name           text        NOT NULL,
    state          text        NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'provisioning', 'running', 'stopping', 'stopped', 'starting', 'rebooting',
                         'deleting', 'deleted', 'failed', 'unknown')),
    state_reason   text,
    instance_type  text        NOT NULL,
    location       text,
    gpu_model      text,
    gpu_count      integer     NOT NULL DEFAULT 0 CHECK (gpu_count IN (0, 1, 2, 4, 8, 16)),
    vcpus          integer     NOT NULL CHECK (vcpus > 0),
    memory_mib     bigint      NOT NULL CHECK (memory_mib > 0),
    host_id        uuid REFERENCES host (id),
    numa_nodes     integer[]   NOT NULL DEFAULT '{}',
    placement      jsonb,
    -- optional lifetime hint from the customer; placement co-locates VMs expected to end together
    expected_end_at timestamptz,
    provision_attempts integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);
CREATE UNIQUE INDEX vm_name_per_project_idx ON vm (project_id, name) WHERE state <> 'deleted';
CREATE INDEX vm_host_idx ON vm (host_id) WHERE host_id IS NOT NULL;

-- Logical CPUs. vm_id marks a pinned claim; a CPU is in at most one VM by construction.
CREATE TABLE cpu (
    host_id    uuid      NOT NULL REFERENCES host (id) ON DELETE CASCADE,
    cpu_id     integer   NOT NULL CHECK (cpu_id >= 0),
    socket_id  integer   NOT NULL,
    core_id    integer   NOT NULL,
    node_id    integer   NOT NULL,
    siblings   integer[] NOT NULL DEFAULT '{}',
    vm_id      uuid REFERENCES vm (id),
    PRIMARY KEY (host_id, cpu_id),
    FOREIGN KEY (host_id, node_id) REFERENCES numa_node (host_id, node_id) ON DELETE CASCADE
);
CREATE INDEX cpu_vm_idx ON cpu (vm_id) WHERE vm_id IS NOT NULL;

-- 1 GiB hugepages a VM holds on each NUMA node; numa_node.hugepages_1g_used is their sum.
CREATE TABLE vm_hugepages (
    vm_id         uuid    NOT NULL REFERENCES vm (id),
    host_id       uuid    NOT NULL,
    node_id       integer NOT NULL,
    hugepages_1g  integer NOT NULL CHECK (hugepages_1g > 0),
    PRIMARY KEY (vm_id, node_id),
    FOREIGN KEY (host_id, node_id) REFERENCES numa_node (host_id, node_id)
);

CREATE TABLE pci_device (
    id             bigserial PRIMARY KEY,
    host_id        uuid        NOT NULL REFERENCES host (id) ON DELETE CASCADE,
    bdf            text        NOT NULL CHECK (bdf ~ '^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$'),
    vendor_id      text        NOT NULL,
    device_id      text        NOT NULL,
    class_code     text        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('gpu', 'nvswitch', 'nic', 'nvme', 'bridge', 'other')),
    model          text,
    numa_node      integer,
    iommu_group    integer,
    parent_bdf     text,
    switch_bdf     text,
    root_port_bdf  text,
    driver         text,
    module_id      integer CHECK (module_id IS NULL OR module_id > 0),
    bar_sizes      bigint[]    NOT NULL DEFAULT '{}',
    health         text        NOT NULL DEFAULT 'ok' CHECK (health IN ('ok', 'suspect', 'quarantined', 'missing')),
    health_reason  text,
    health_changed_at timestamptz,
    vm_id          uuid REFERENCES vm (id),
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (host_id, bdf)
);
CREATE UNIQUE INDEX pci_device_module_idx ON pci_device (host_id, module_id) WHERE kind = 'gpu' AND module_id IS NOT NULL;
CREATE INDEX pci_device_vm_idx ON pci_device (vm_id) WHERE vm_id IS NOT NULL;
CREATE INDEX pci_device_group_idx ON pci_device (host_id, iommu_group);

-- Fabric Manager partitions. A partition row is held by at most one VM; overlap between partitions
-- (8 contains 4 contains 2 contains 1) is enforced at claim time through the member devices.
CREATE TABLE gpu_partition (
    id             bigserial PRIMARY KEY,
    host_id        uuid      NOT NULL REFERENCES host (id) ON DELETE CASCADE,
    partition_id   integer   NOT NULL CHECK (partition_id >= 0),
    gpu_count      integer   NOT NULL CHECK (gpu_count > 0),
    module_ids     integer[] NOT NULL,
    available      boolean   NOT NULL DEFAULT true,
    fm_active      boolean   NOT NULL DEFAULT false,
    vm_id          uuid REFERENCES vm (id),
    UNIQUE (host_id, partition_id),
    CONSTRAINT partition_size_matches CHECK (cardinality(module_ids) = gpu_count)
);
CREATE UNIQUE INDEX gpu_partition_vm_idx ON gpu_partition (vm_id) WHERE vm_id IS NOT NULL;

CREATE TABLE gpu_partition_member (
    partition_row_id  bigint NOT NULL REFERENCES gpu_partition (id) ON DELETE CASCADE,
    device_id         bigint NOT NULL REFERENCES pci_device (id) ON DELETE CASCADE,
    PRIMARY KEY (partition_row_id, device_id)
);
CREATE INDEX gpu_partition_member_device_idx ON gpu_partition_member (device_id);

-- Workflows (Ubicloud-style strands): one row per long-running thing, one label per transaction.
CREATE TABLE strand (
    id           uuid PRIMARY KEY,
    prog         text        NOT NULL,
    label        text        NOT NULL,
    stack        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    parent_id    uuid REFERENCES strand (id),
    schedule     timestamptz NOT NULL DEFAULT now(),
    lease_until  timestamptz,
    lease_owner  text,
    try          integer     NOT NULL DEFAULT 0,
    exitval      jsonb,
    last_error   text,
    label_entered_at timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX strand_due_idx ON strand (schedule) WHERE exitval IS NULL;

CREATE TABLE semaphore (
    id          bigserial PRIMARY KEY,
    strand_id   uuid        NOT NULL REFERENCES strand (id) ON DELETE CASCADE,
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX semaphore_strand_idx ON semaphore (strand_id, name);

-- Jobs a host worker leases and runs. A worker only ever sees rows of its own host_id.
CREATE TABLE worker_job (
    id           uuid PRIMARY KEY,
    -- the workflow step that asked for it; a step re-run after a crash finds its job instead of sending another
    step_key     text,
    host_id      uuid        NOT NULL REFERENCES host (id),
    vm_id        uuid REFERENCES vm (id),
    strand_id    uuid REFERENCES strand (id),
    kind         text        NOT NULL,
    payload      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    state        text        NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'leased', 'succeeded', 'failed', 'cancelled')),
    attempts     integer     NOT NULL DEFAULT 0,
    lease_until  timestamptz,
    result       jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz
);
CREATE INDEX worker_job_queue_idx ON worker_job (host_id, created_at) WHERE state IN ('queued', 'leased');
CREATE INDEX worker_job_vm_idx ON worker_job (vm_id);
CREATE UNIQUE INDEX worker_job_step_idx ON worker_job (strand_id, step_key) WHERE step_key IS NOT NULL;

-- Billing: one span per billed resource; ranges of the same VM and resource never overlap.
CREATE TABLE billing_span (
    id             bigserial PRIMARY KEY,
    project_id     uuid      NOT NULL REFERENCES project (id),
    vm_id          uuid      NOT NULL REFERENCES vm (id),
    resource       text      NOT NULL,
    instance_type  text      NOT NULL,
    location       text,
    quantity       integer   NOT NULL DEFAULT 1 CHECK (quantity > 0),
    period         tstzrange NOT NULL CHECK (NOT isempty(period) AND lower(period) IS NOT NULL),
    EXCLUDE USING gist (vm_id WITH =, resource WITH =, period WITH &&)
);
CREATE INDEX billing_span_project_idx ON billing_span (project_id);

CREATE TABLE audit_event (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text        NOT NULL,
    action       text        NOT NULL,
    target_type  text,
    target_id    text,
    source_ip    text,
    result       text        NOT NULL,
    detail       jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_event_at_idx ON audit_event (at DESC);
