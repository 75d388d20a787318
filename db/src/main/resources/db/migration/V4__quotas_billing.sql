-- Quotas per project and resource. resource is 'vms', 'vcpus' or 'gpus:<GPU model>'; a project
-- without a row for a resource gets the control plane's default (gpucloud.api.quota-defaults).
CREATE TABLE project_quota (
    project_id  uuid    NOT NULL REFERENCES project (id),
    resource    text    NOT NULL CHECK (resource IN ('vms', 'vcpus') OR resource LIKE 'gpus:%'),
    max_amount  integer NOT NULL CHECK (max_amount >= 0),
    PRIMARY KEY (project_id, resource)
);

-- The open span of a VM is looked up on every running/stopped/deleted transition.
CREATE INDEX billing_span_open_idx ON billing_span (vm_id, resource) WHERE upper_inf(period);
