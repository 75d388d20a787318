-- The claim and release of a placement as one round trip each. Same rules as before: every write is
-- conditional and its row count checked; any shortfall raises SQLSTATE GC001 ("placement conflict"),
-- which aborts the caller's transaction so nothing of a lost race remains. Counters are caches of the
-- device/CPU/hugepage rows and CHECK constraints still guard them.

ALTER TABLE host ADD COLUMN alloc_version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION claim_placement(p_vm uuid, p_host uuid, p_partition bigint, p_gpus bigint[], p_cpus integer[],
                                p_nodes integer[], p_pages integer[], p_memory_mib bigint, p_expected_secs bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    wanted integer;
BEGIN
    IF p_partition IS NOT NULL THEN
        UPDATE gpu_partition SET vm_id = p_vm
         WHERE id = p_partition AND host_id = p_host AND vm_id IS NULL AND available;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n <> 1 THEN RAISE EXCEPTION 'partition % is taken', p_partition USING ERRCODE = 'GC001'; END IF;
    END IF;

    IF cardinality(p_gpus) > 0 THEN
        UPDATE pci_device SET vm_id = p_vm
         WHERE id = ANY (p_gpus) AND host_id = p_host AND kind = 'gpu' AND vm_id IS NULL AND health = 'ok';
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n <> cardinality(p_gpus) THEN
            RAISE EXCEPTION 'claimed % of % GPUs', n, cardinality(p_gpus) USING ERRCODE = 'GC001';
        END IF;
        -- a GPU's sibling functions (audio, USB-C) share its IOMMU group and go with it
        SELECT count(*) INTO wanted FROM pci_device s JOIN pci_device g
            ON s.host_id = g.host_id AND s.iommu_group = g.iommu_group
         WHERE g.id = ANY (p_gpus) AND s.kind NOT IN ('gpu', 'bridge', 'nvswitch');
        UPDATE pci_device s SET vm_id = p_vm FROM pci_device g
         WHERE g.id = ANY (p_gpus) AND s.host_id = g.host_id AND s.iommu_group = g.iommu_group
           AND s.kind NOT IN ('gpu', 'bridge', 'nvswitch') AND s.vm_id IS NULL;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n <> wanted THEN RAISE EXCEPTION 'IOMMU group siblings are held' USING ERRCODE = 'GC001'; END IF;
    END IF;

    IF cardinality(p_cpus) > 0 THEN
        UPDATE cpu SET vm_id = p_vm WHERE host_id = p_host AND cpu_id = ANY (p_cpus) AND vm_id IS NULL;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n <> cardinality(p_cpus) THEN
            RAISE EXCEPTION 'claimed % of % CPUs', n, cardinality(p_cpus) USING ERRCODE = 'GC001';
        END IF;
        UPDATE numa_node nn SET used_cpus = nn.used_cpus + c.taken, held_cpus = nn.held_cpus || c.ids
          FROM (SELECT node_id, count(*) AS taken, array_agg(cpu_id) AS ids FROM cpu
                 WHERE host_id = p_host AND cpu_id = ANY (p_cpus) GROUP BY node_id) c
         WHERE nn.host_id = p_host AND nn.node_id = c.node_id;
    END IF;

    IF cardinality(p_nodes) > 0 THEN
        INSERT INTO vm_hugepages (vm_id, host_id, node_id, hugepages_1g)
        SELECT p_vm, p_host, u.node_id, u.pages FROM unnest(p_nodes, p_pages) AS u(node_id, pages);
        UPDATE numa_node nn SET hugepages_1g_used = nn.hugepages_1g_used + u.pages
          FROM unnest(p_nodes, p_pages) AS u(node_id, pages)
         WHERE nn.host_id = p_host AND nn.node_id = u.node_id;
    END IF;

    UPDATE host SET used_gpus = used_gpus + cardinality(p_gpus), used_cpus = used_cpus + cardinality(p_cpus),
           used_memory_mib = used_memory_mib + p_memory_mib,
           used_hugepages_1g = used_hugepages_1g + coalesce((SELECT sum(x) FROM unnest(p_pages) x), 0),
           alloc_version = alloc_version + 1
     WHERE id = p_host AND state = 'ready';
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n <> 1 THEN RAISE EXCEPTION 'host % is not ready', p_host USING ERRCODE = 'GC001'; END IF;

    UPDATE vm SET host_id = p_host, numa_nodes = p_nodes, updated_at = now(),
           expected_end_at = CASE WHEN p_expected_secs IS NULL THEN NULL
                                  ELSE now() + make_interval(secs => p_expected_secs) END
     WHERE id = p_vm AND host_id IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n <> 1 THEN RAISE EXCEPTION 'VM % is already placed', p_vm USING ERRCODE = 'GC001'; END IF;
END
$$;

-- Gives back everything a VM holds; the caller has locked the host row first (claims lock it too).
CREATE FUNCTION release_placement(p_vm uuid, p_host uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    gpus integer;
    cpus integer;
    pages integer;
BEGIN
    UPDATE gpu_partition SET vm_id = NULL WHERE vm_id = p_vm;
    WITH released AS (UPDATE pci_device SET vm_id = NULL WHERE vm_id = p_vm RETURNING kind)
    SELECT count(*) FILTER (WHERE kind = 'gpu') INTO gpus FROM released;
    WITH released AS (UPDATE cpu SET vm_id = NULL WHERE vm_id = p_vm RETURNING node_id, cpu_id),
         per_node AS (SELECT node_id, count(*) AS n, array_agg(cpu_id) AS ids FROM released GROUP BY node_id),
         counters AS (UPDATE numa_node nn SET used_cpus = nn.used_cpus - p.n,
                             held_cpus = ARRAY(SELECT unnest(nn.held_cpus) EXCEPT SELECT unnest(p.ids))
                        FROM per_node p WHERE nn.host_id = p_host AND nn.node_id = p.node_id RETURNING 1)
    SELECT coalesce(sum(n), 0) INTO cpus FROM per_node;
    WITH freed AS (DELETE FROM vm_hugepages WHERE vm_id = p_vm RETURNING node_id, hugepages_1g),
         counters AS (UPDATE numa_node nn SET hugepages_1g_used = nn.hugepages_1g_used - f.hugepages_1g
                        FROM freed f WHERE nn.host_id = p_host AND nn.node_id = f.node_id RETURNING 1)
    SELECT coalesce(sum(hugepages_1g), 0) INTO pages FROM freed;
    UPDATE host SET used_gpus = used_gpus - gpus, used_cpus = used_cpus - cpus,
           used_memory_mib = used_memory_mib - (SELECT memory_mib FROM vm WHERE id = p_vm),
           used_hugepages_1g = used_hugepages_1g - pages, alloc_version = alloc_version + 1
     WHERE id = p_host;
    UPDATE vm SET host_id = NULL, numa_nodes = '{}', updated_at = now() WHERE id = p_vm;
END
$$;
