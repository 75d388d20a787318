-- A column's allowed values as a domain instead of a table CHECK constraint (issue: placement).
--
-- PostgreSQL evaluates every CHECK constraint of a table on every row an INSERT or UPDATE writes,
-- whatever columns it changed, and before that it reads each constraint's stored expression back from
-- its text form and plans it, once per statement (ExecRelCheck). A claim and a release each write
-- host, vm, pci_device, gpu_partition and numa_node rows; perf on the placement benchmark (10,000 hosts,
-- 64 clients) showed PostgreSQL spending about an eighth of its CPU reading those expressions back
-- (pg_strtok, strtoll), most of it the IN lists below: host alone carried 12 kB of them, vm 6 kB.
-- Without these constraints the benchmark placed 8.6 % more VMs per second.
--
-- A domain keeps the same rule with the same constraint name (so errors read as before), but it is
-- checked only where a statement assigns the column, from an expression the connection parsed once.
-- The checks that compare two columns (used <= total, cardinality(held_cpus) = used_cpus) stay on the
-- tables: they guard the counters every claim changes. So do the checks of columns that queries gather
-- into arrays (bdf, module_id, node_id, partition_id): an array of a domain type does not compare with
-- an integer[] or text[].

CREATE DOMAIN host_state AS text
    CONSTRAINT host_state_check CHECK (VALUE IN ('onboarding', 'ready', 'draining', 'unreachable', 'maintenance', 'retired'));
CREATE DOMAIN host_platform AS text
    CONSTRAINT host_platform_check
    CHECK (VALUE IN ('HGX_A100_8', 'HGX_A100_16', 'HGX_H100_8', 'HGX_H200_8', 'HGX_B200_8', 'PCIE_GPU', 'NO_GPU'));
CREATE DOMAIN fabric_mode AS text
    CONSTRAINT host_fabric_mode_check CHECK (VALUE IN ('SHARED_NVSWITCH', 'FULL_PASSTHROUGH', 'NONE'));
CREATE DOMAIN virtualization_mode AS text
    CONSTRAINT host_virtualization_mode_check
    CHECK (VALUE IN ('passthrough', 'mig', 'hami', 'cambricon_dsmlu', 'cambricon_env_share'));
CREATE DOMAIN virtualization_status AS text
    CONSTRAINT host_virtualization_status_check CHECK (VALUE IN ('ready', 'switching', 'switch_failed'));
CREATE DOMAIN vm_state AS text
    CONSTRAINT vm_state_check
    CHECK (VALUE IN ('pending', 'provisioning', 'running', 'stopping', 'stopped', 'starting', 'rebooting',
                     'deleting', 'deleted', 'failed', 'unknown'));
CREATE DOMAIN vm_gpu_count AS integer CONSTRAINT vm_gpu_count_check CHECK (VALUE IN (0, 1, 2, 4, 8, 16));
CREATE DOMAIN user_data AS text CONSTRAINT vm_user_data_check CHECK (octet_length(VALUE) <= 16384);
CREATE DOMAIN device_kind AS text
    CONSTRAINT pci_device_kind_check CHECK (VALUE IN ('gpu', 'nvswitch', 'nic', 'nvme', 'bridge', 'other'));
CREATE DOMAIN device_health AS text
    CONSTRAINT pci_device_health_check CHECK (VALUE IN ('ok', 'suspect', 'quarantined', 'missing'));
CREATE DOMAIN job_state AS text
    CONSTRAINT worker_job_state_check CHECK (VALUE IN ('queued', 'leased', 'succeeded', 'failed', 'cancelled'));
CREATE DOMAIN nonnegative_int AS integer CONSTRAINT nonnegative_int_check CHECK (VALUE >= 0);
CREATE DOMAIN nonnegative_bigint AS bigint CONSTRAINT nonnegative_bigint_check CHECK (VALUE >= 0);
CREATE DOMAIN positive_int AS integer CONSTRAINT positive_int_check CHECK (VALUE > 0);
CREATE DOMAIN positive_bigint AS bigint CONSTRAINT positive_bigint_check CHECK (VALUE > 0);

-- PostgreSQL cannot change the type of a column that a view or a trigger's WHEN reads, so every view and
-- the triggers of these tables are set aside and recreated below from their own definitions, unchanged.
CREATE TEMP TABLE saved_view (name text PRIMARY KEY, def text NOT NULL, done boolean NOT NULL DEFAULT false)
    ON COMMIT DROP;
INSERT INTO saved_view (name, def)
SELECT format('%I.%I', n.nspname, c.relname), pg_get_viewdef(c.oid)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'v' AND n.nspname IN ('public', 'reporting');
CREATE TEMP TABLE saved_trigger ON COMMIT DROP AS
SELECT t.tgname AS name, t.tgrelid::regclass AS rel, pg_get_triggerdef(t.oid) AS def
  FROM pg_trigger t
 WHERE NOT t.tgisinternal
   AND t.tgrelid IN ('host'::regclass, 'numa_node'::regclass, 'vm'::regclass, 'pci_device'::regclass,
                     'gpu_partition'::regclass, 'vm_hugepages'::regclass, 'worker_job'::regclass);
DO $$
DECLARE
    v record;
BEGIN
    FOR v IN SELECT name FROM saved_view LOOP
        EXECUTE 'DROP VIEW IF EXISTS ' || v.name || ' CASCADE';
    END LOOP;
    FOR v IN SELECT name, rel FROM saved_trigger LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', v.name, v.rel);
    END LOOP;
END
$$;

ALTER TABLE host
    DROP CONSTRAINT host_state_check, DROP CONSTRAINT host_platform_check, DROP CONSTRAINT host_fabric_mode_check,
    DROP CONSTRAINT host_virtualization_mode_check, DROP CONSTRAINT host_virtualization_requested_mode_check,
    DROP CONSTRAINT host_virtualization_status_check, DROP CONSTRAINT host_total_gpus_check,
    DROP CONSTRAINT host_total_cpus_check, DROP CONSTRAINT host_total_memory_mib_check,
    DROP CONSTRAINT host_total_hugepages_1g_check,
    ALTER COLUMN state TYPE host_state, ALTER COLUMN platform TYPE host_platform,
    ALTER COLUMN fabric_mode TYPE fabric_mode, ALTER COLUMN virtualization_mode TYPE virtualization_mode,
    ALTER COLUMN virtualization_requested_mode TYPE virtualization_mode,
    ALTER COLUMN virtualization_status TYPE virtualization_status,
    ALTER COLUMN total_gpus TYPE nonnegative_int, ALTER COLUMN total_cpus TYPE nonnegative_int,
    ALTER COLUMN total_memory_mib TYPE nonnegative_bigint, ALTER COLUMN total_hugepages_1g TYPE nonnegative_int;

ALTER TABLE numa_node
    DROP CONSTRAINT numa_node_memory_mib_check,
    DROP CONSTRAINT numa_node_total_cpus_check, DROP CONSTRAINT numa_node_hugepages_1g_total_check,
    DROP CONSTRAINT numa_node_hugepages_2m_total_check,
    ALTER COLUMN memory_mib TYPE nonnegative_bigint,
    ALTER COLUMN total_cpus TYPE nonnegative_int, ALTER COLUMN hugepages_1g_total TYPE nonnegative_int,
    ALTER COLUMN hugepages_2m_total TYPE nonnegative_int;

ALTER TABLE vm
    DROP CONSTRAINT vm_state_check, DROP CONSTRAINT vm_gpu_count_check, DROP CONSTRAINT vm_user_data_check,
    DROP CONSTRAINT vm_vcpus_check, DROP CONSTRAINT vm_memory_mib_check,
    ALTER COLUMN state TYPE vm_state, ALTER COLUMN gpu_count TYPE vm_gpu_count,
    ALTER COLUMN user_data TYPE user_data, ALTER COLUMN vcpus TYPE positive_int,
    ALTER COLUMN memory_mib TYPE positive_bigint;

ALTER TABLE pci_device
    DROP CONSTRAINT pci_device_kind_check, DROP CONSTRAINT pci_device_health_check,
    ALTER COLUMN kind TYPE device_kind, ALTER COLUMN health TYPE device_health;

ALTER TABLE vm_hugepages
    DROP CONSTRAINT vm_hugepages_hugepages_1g_check, ALTER COLUMN hugepages_1g TYPE positive_int;

ALTER TABLE worker_job DROP CONSTRAINT worker_job_state_check, ALTER COLUMN state TYPE job_state;

DO $$
DECLARE
    v record;
    progress boolean := true;
BEGIN
    -- a view that reads another view waits for it: recreate in rounds until none is left
    WHILE progress LOOP
        progress := false;
        FOR v IN SELECT name, def FROM saved_view WHERE NOT done ORDER BY name LOOP
            BEGIN
                EXECUTE format('CREATE VIEW %s AS %s', v.name, v.def);
                UPDATE saved_view SET done = true WHERE name = v.name;
                progress := true;
            EXCEPTION WHEN undefined_table THEN
                NULL;
            END;
        END LOOP;
    END LOOP;
    FOR v IN SELECT def FROM saved_trigger LOOP
        EXECUTE v.def;
    END LOOP;
    IF EXISTS (SELECT 1 FROM saved_view WHERE NOT done) THEN
        RAISE EXCEPTION 'views not recreated: %', (SELECT string_agg(name, ', ') FROM saved_view WHERE NOT done);
    END IF;
END
$$;
