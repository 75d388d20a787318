-- Rules that a claim or release can never break are checked only when a statement writes their columns
-- (issue: placement).
--
-- Measured before (one-client pgbench of a release followed by a claim, through release_placement_of and
-- claim_placement_at, on a copy of the placement benchmark's database; PostgreSQL CPU per cycle from the
-- postmaster's child times): 1.28 ms. Without any table CHECK on the five tables a claim writes it was
-- 1.07 ms, so about a sixth of the cycle went to CHECKs. PostgreSQL evaluates every CHECK of a table on
-- every row an UPDATE writes, whatever columns the UPDATE sets, and first reads each constraint's stored
-- expression back from its text and plans it, once per statement.
--
-- Two kinds of work were done on every claim and release for rows whose checked columns never change
-- there:
-- - the WHEN clause of host_placement_changed (eight comparisons, read back from text the same way) ran
--   for every host row a claim or release updates, only to find that none of its columns had moved;
-- - the identity rules of devices (bdf, module_id), partitions (partition_id, gpu_count, module_ids) and
--   NUMA nodes (node_id) were checked on every claim and release of a device, partition or node.
-- Now the trigger is declared for its columns (UPDATE OF), so PostgreSQL skips it, WHEN and all, unless
-- an UPDATE sets one of them; and the identity rules are a BEFORE INSERT OR UPDATE OF trigger of those
-- columns, with the same constraint names and SQLSTATE (23514), so errors read as before.
-- Together: 1.28 -> 1.17 ms per cycle (-8 %; means of four rounds, alternating).
--
-- The rules that guard what a claim changes stay table CHECKs: used within total on host and numa_node,
-- cardinality(held_cpus) = used_cpus, numa_held_cpus_distinct, vm_cpus_only_when_placed.

DROP TRIGGER host_placement_changed ON host;
CREATE TRIGGER host_placement_changed
    AFTER UPDATE OF state, passthrough_capable, virtualization_mode, virtualization_status, topology_reported_at,
                    gpu_model, location, total_gpus ON host
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state
                       OR OLD.passthrough_capable IS DISTINCT FROM NEW.passthrough_capable
                       OR OLD.virtualization_mode IS DISTINCT FROM NEW.virtualization_mode
                       OR OLD.virtualization_status IS DISTINCT FROM NEW.virtualization_status
                       OR OLD.topology_reported_at IS DISTINCT FROM NEW.topology_reported_at
                       OR OLD.gpu_model IS DISTINCT FROM NEW.gpu_model
                       OR OLD.location IS DISTINCT FROM NEW.location
                       OR OLD.total_gpus IS DISTINCT FROM NEW.total_gpus)
    EXECUTE FUNCTION notify_placement_host();

-- The rules as they were (V1); a NULL passes, as it does in a CHECK.
CREATE FUNCTION check_identity_columns() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    broken text;
BEGIN
    IF TG_TABLE_NAME = 'pci_device' THEN
        broken := CASE WHEN NOT NEW.bdf ~ '^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$' THEN 'pci_device_bdf_check'
                       WHEN NEW.module_id <= 0 THEN 'pci_device_module_id_check' END;
    ELSIF TG_TABLE_NAME = 'gpu_partition' THEN
        broken := CASE WHEN NEW.partition_id < 0 THEN 'gpu_partition_partition_id_check'
                       WHEN NEW.gpu_count <= 0 THEN 'gpu_partition_gpu_count_check'
                       WHEN cardinality(NEW.module_ids) <> NEW.gpu_count THEN 'partition_size_matches' END;
    ELSIF TG_TABLE_NAME = 'numa_node' THEN
        broken := CASE WHEN NEW.node_id < 0 THEN 'numa_node_node_id_check' END;
    END IF;
    IF broken IS NOT NULL THEN
        RAISE EXCEPTION 'new row for relation "%" violates check constraint "%"', TG_TABLE_NAME, broken
            USING ERRCODE = 'check_violation', CONSTRAINT = broken, TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
    END IF;
    RETURN NEW;
END
$$;

ALTER TABLE pci_device DROP CONSTRAINT pci_device_bdf_check, DROP CONSTRAINT pci_device_module_id_check;
CREATE TRIGGER pci_device_identity_checked BEFORE INSERT OR UPDATE OF bdf, module_id ON pci_device
    FOR EACH ROW EXECUTE FUNCTION check_identity_columns();

ALTER TABLE gpu_partition DROP CONSTRAINT gpu_partition_partition_id_check,
    DROP CONSTRAINT gpu_partition_gpu_count_check, DROP CONSTRAINT partition_size_matches;
CREATE TRIGGER gpu_partition_identity_checked
    BEFORE INSERT OR UPDATE OF partition_id, gpu_count, module_ids ON gpu_partition
    FOR EACH ROW EXECUTE FUNCTION check_identity_columns();

ALTER TABLE numa_node DROP CONSTRAINT numa_node_node_id_check;
CREATE TRIGGER numa_node_identity_checked BEFORE INSERT OR UPDATE OF node_id ON numa_node
    FOR EACH ROW EXECUTE FUNCTION check_identity_columns();
