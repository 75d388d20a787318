-- Placement from an in-memory fleet cache (control plane: FleetCache). The cache only proposes; these
-- functions decide. A claim names the allocation version and topology version its decision was based
-- on and is refused (SQLSTATE GC002, nothing written) if the host moved on since, so a stale cache
-- costs a re-read of one host, never a wrong or double allocation. Every write stays conditional with
-- its row count checked (claim_placement, V2) and the CHECK constraints still guard the counters.

-- One round trip: lock the host row, check that it still takes VMs and is at the expected versions,
-- claim. Returns the host's new allocation version.
--   GC001 'host busy'  another transaction holds the host row (skip it, the next candidate is as good)
--   GC001 ...          the claim itself lost (see claim_placement)
--   GC002 'stale ...'  the host changed since the caller's snapshot: re-read it and decide again
CREATE FUNCTION claim_placement_at(p_version bigint, p_topology timestamptz, p_vm uuid, p_host uuid,
                                   p_partition bigint, p_gpus bigint[], p_cpus integer[], p_nodes integer[],
                                   p_pages integer[], p_memory_mib bigint, p_expected_secs bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    h record;
BEGIN
    SELECT alloc_version, topology_reported_at, state, passthrough_capable, virtualization_mode,
           virtualization_status
      INTO h FROM host WHERE id = p_host FOR NO KEY UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM host WHERE id = p_host) THEN
            RAISE EXCEPTION 'host busy' USING ERRCODE = 'GC001';
        END IF;
        RAISE EXCEPTION 'host % is gone', p_host USING ERRCODE = 'GC001';
    END IF;
    IF h.state <> 'ready' OR NOT h.passthrough_capable OR h.virtualization_mode <> 'passthrough'
       OR h.virtualization_status <> 'ready' THEN
        RAISE EXCEPTION 'host % no longer takes VMs (%, %/%)', p_host, h.state, h.virtualization_mode,
            h.virtualization_status USING ERRCODE = 'GC001';
    END IF;
    IF h.alloc_version <> p_version OR h.topology_reported_at IS DISTINCT FROM p_topology THEN
        RAISE EXCEPTION 'stale snapshot: host % is at version %, not %', p_host, h.alloc_version, p_version
            USING ERRCODE = 'GC002';
    END IF;
    PERFORM claim_placement(p_vm, p_host, p_partition, p_gpus, p_cpus, p_nodes, p_pages, p_memory_mib,
                            p_expected_secs);
    RETURN p_version + 1;
END
$$;

-- One round trip: lock the VM, then its host (the lock order of the earlier two-statement release),
-- give everything back. Returns the host and its allocation version before and after, or no row if
-- the VM holds nothing (safe to repeat).
CREATE FUNCTION release_placement_of(p_vm uuid)
RETURNS TABLE (host_id uuid, old_version bigint, new_version bigint) LANGUAGE plpgsql AS $$
DECLARE
    v_host uuid;
    v_version bigint;
BEGIN
    SELECT vm.host_id INTO v_host FROM vm WHERE vm.id = p_vm FOR UPDATE;
    IF v_host IS NULL THEN
        RETURN;
    END IF;
    SELECT h.alloc_version INTO v_version FROM host h WHERE h.id = v_host FOR NO KEY UPDATE;
    PERFORM release_placement(p_vm, v_host);
    host_id := v_host;
    old_version := v_version;
    new_version := v_version + 1;
    RETURN NEXT;
END
$$;

-- Changes that placement caches but that do not bump alloc_version (a host becoming ready or leaving,
-- a mode switch, a new topology, a GPU quarantined or healthy again, a new host) are announced on
-- 'placement_host' with the host id, so every control-plane instance re-reads that host. Allocation
-- changes are not announced (that would be a NOTIFY per claim); the cache polls alloc_version instead
-- and the claim's version check covers the gap.
CREATE FUNCTION notify_placement_host() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'host' THEN
        PERFORM pg_notify('placement_host', NEW.id::text);
    ELSE
        PERFORM pg_notify('placement_host', NEW.host_id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER host_placement_inserted AFTER INSERT ON host
    FOR EACH ROW EXECUTE FUNCTION notify_placement_host();
CREATE TRIGGER host_placement_changed AFTER UPDATE ON host
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state
                       OR OLD.passthrough_capable IS DISTINCT FROM NEW.passthrough_capable
                       OR OLD.virtualization_mode IS DISTINCT FROM NEW.virtualization_mode
                       OR OLD.virtualization_status IS DISTINCT FROM NEW.virtualization_status
                       OR OLD.topology_reported_at IS DISTINCT FROM NEW.topology_reported_at
                       OR OLD.gpu_model IS DISTINCT FROM NEW.gpu_model
                       OR OLD.location IS DISTINCT FROM NEW.location
                       OR OLD.total_gpus IS DISTINCT FROM NEW.total_gpus)
    EXECUTE FUNCTION notify_placement_host();
CREATE TRIGGER pci_device_placement_health AFTER UPDATE OF health ON pci_device
    FOR EACH ROW WHEN (OLD.health IS DISTINCT FROM NEW.health)
    EXECUTE FUNCTION notify_placement_host();
