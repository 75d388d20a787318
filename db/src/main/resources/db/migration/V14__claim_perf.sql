-- Cheaper claim and release (placement's critical path).
--
-- Measured first (auto_explain with nested statements and triggers, and per-step timings of the claim
-- repeated 300 times in one session on the placement benchmark's 2,000-host database, each claim rolled
-- back): the biggest single cost was not the writes but PLANNING. PL/pgSQL plans every statement with
-- the call's parameter values for the first five calls on a connection and then keeps choosing such
-- custom plans for these statements (their generic-plan estimate for "= ANY (array)" is no better), so
-- every claim re-planned ~12 statements: a 1-GPU claim took ~1.1 ms in auto mode, ~0.8 ms with generic
-- plans (the GPU step alone 0.5 -> 0.1 ms). The generic plans are the same index scans (pkey,
-- pci_device_group_idx, cpu_pkey, cpu_vm_idx...), so the functions now run with
-- plan_cache_mode = force_generic_plan.
--
-- Next were the per-row CPU updates (96 for an 8-GPU VM, ~0.7 ms: a new heap tuple and two index
-- entries each). The foreign key cpu.vm_id -> vm costs one RI query per row, ~0.3-0.5 ms for an 8-GPU
-- claim and ~0.05 ms for a 1-GPU one; a statement-level replacement trigger (transition tables) was
-- tried and cost ~0.15 ms per statement, about what it saves on the average VM (2.6 GPUs, 31 CPUs), so
-- the foreign keys stay as they are.
--
-- Also (fewer statements, no re-reads; every write still conditional with its row count checked, GC001
-- on any shortfall, the exception rolls back everything, CHECK constraints still guard the counters):
-- - claim_placement: GPUs and their IOMMU-group siblings in one UPDATE; CPUs, NUMA counters and
--   hugepages in one statement (the NUMA counters come from the cpu UPDATE's RETURNING instead of a
--   re-read of the cpu rows, and each numa_node row is updated once instead of twice). Siblings are
--   counted once each (a group with two GPUs and one audio function wants one sibling, not two).
-- - release_placement: one statement (data-modifying CTEs) instead of six, each numa_node row updated once.

CREATE OR REPLACE FUNCTION claim_placement(p_vm uuid, p_host uuid, p_partition bigint, p_gpus bigint[],
                                           p_cpus integer[], p_nodes integer[], p_pages integer[],
                                           p_memory_mib bigint, p_expected_secs bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    siblings bigint;
    wanted bigint;
    cpus_wanted integer := coalesce(cardinality(p_cpus), 0);
BEGIN
    IF p_partition IS NOT NULL THEN
        UPDATE gpu_partition SET vm_id = p_vm
         WHERE id = p_partition AND host_id = p_host AND vm_id IS NULL AND available;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n <> 1 THEN RAISE EXCEPTION 'partition % is taken', p_partition USING ERRCODE = 'GC001'; END IF;
    END IF;

    IF coalesce(cardinality(p_gpus), 0) > 0 THEN
        -- the GPUs and their sibling functions (audio, USB-C share the GPU's IOMMU group and go with it)
        WITH grp AS (SELECT DISTINCT s.id FROM pci_device g
                       JOIN pci_device s ON s.host_id = g.host_id AND s.iommu_group = g.iommu_group
                      WHERE g.id = ANY (p_gpus) AND s.kind NOT IN ('gpu', 'bridge', 'nvswitch')),
             taken AS (UPDATE pci_device d SET vm_id = p_vm
                        WHERE d.id IN (SELECT unnest(p_gpus) UNION SELECT id FROM grp) AND d.vm_id IS NULL
                          AND CASE WHEN d.kind = 'gpu' THEN d.id = ANY (p_gpus) AND d.host_id = p_host AND d.health = 'ok'
                                   ELSE d.id IN (SELECT id FROM grp) END
                       RETURNING d.kind)
        SELECT count(*) FILTER (WHERE kind = 'gpu'), count(*) FILTER (WHERE kind <> 'gpu'), (SELECT count(*) FROM grp)
          INTO n, siblings, wanted FROM taken;
        IF n <> cardinality(p_gpus) THEN
            RAISE EXCEPTION 'claimed % of % GPUs', n, cardinality(p_gpus) USING ERRCODE = 'GC001';
        END IF;
        IF siblings <> wanted THEN RAISE EXCEPTION 'IOMMU group siblings are held' USING ERRCODE = 'GC001'; END IF;
    END IF;

    IF cpus_wanted > 0 OR coalesce(cardinality(p_nodes), 0) > 0 THEN
        -- CPUs, then each NUMA node's counters once (CPUs and hugepages together) from what the UPDATE
        -- returned; the counters move only if every CPU was claimed (else GC001 below, nothing stays)
        WITH taken AS (UPDATE cpu SET vm_id = p_vm
                        WHERE host_id = p_host AND cpu_id = ANY (p_cpus) AND vm_id IS NULL
                       RETURNING node_id, cpu_id),
             cpus AS (SELECT node_id, count(*) AS n, array_agg(cpu_id) AS ids FROM taken GROUP BY node_id),
             pages AS (SELECT u.node_id, u.pages FROM unnest(p_nodes, p_pages) AS u(node_id, pages)),
             hugepages AS (INSERT INTO vm_hugepages (vm_id, host_id, node_id, hugepages_1g)
                           SELECT p_vm, p_host, node_id, pages FROM pages),
             delta AS (SELECT coalesce(c.node_id, p.node_id) AS node_id, coalesce(c.n, 0) AS n,
                              coalesce(c.ids, '{}') AS ids, coalesce(p.pages, 0) AS pages
                         FROM cpus c FULL JOIN pages p ON p.node_id = c.node_id),
             counters AS (UPDATE numa_node nn SET used_cpus = nn.used_cpus + d.n, held_cpus = nn.held_cpus || d.ids,
                                 hugepages_1g_used = nn.hugepages_1g_used + d.pages
                            FROM delta d
                           WHERE nn.host_id = p_host AND nn.node_id = d.node_id
                             AND (SELECT count(*) FROM taken) = cpus_wanted
                          RETURNING 1)
        SELECT count(*) INTO n FROM taken;
        IF n <> cpus_wanted THEN
            RAISE EXCEPTION 'claimed % of % CPUs', n, cpus_wanted USING ERRCODE = 'GC001';
        END IF;
    END IF;

    UPDATE host SET used_gpus = used_gpus + coalesce(cardinality(p_gpus), 0), used_cpus = used_cpus + cpus_wanted,
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

-- Gives back everything a VM holds in one statement (PostgreSQL runs every data-modifying CTE to
-- completion whether or not the outer query reads it); the caller has locked the host row first
-- (claims lock it too).
CREATE OR REPLACE FUNCTION release_placement(p_vm uuid, p_host uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH partitions AS (UPDATE gpu_partition SET vm_id = NULL WHERE vm_id = p_vm RETURNING 1),
         devices AS (UPDATE pci_device SET vm_id = NULL WHERE vm_id = p_vm RETURNING kind),
         cpus AS (UPDATE cpu SET vm_id = NULL WHERE vm_id = p_vm RETURNING node_id, cpu_id),
         pages AS (DELETE FROM vm_hugepages WHERE vm_id = p_vm RETURNING node_id, hugepages_1g),
         cpu_nodes AS (SELECT node_id, count(*) AS n, array_agg(cpu_id) AS ids FROM cpus GROUP BY node_id),
         page_nodes AS (SELECT node_id, sum(hugepages_1g) AS pages FROM pages GROUP BY node_id),
         delta AS (SELECT coalesce(c.node_id, p.node_id) AS node_id, coalesce(c.n, 0) AS n,
                          coalesce(c.ids, '{}') AS ids, coalesce(p.pages, 0) AS pages
                     FROM cpu_nodes c FULL JOIN page_nodes p ON p.node_id = c.node_id),
         counters AS (UPDATE numa_node nn SET used_cpus = nn.used_cpus - d.n,
                             held_cpus = ARRAY(SELECT x FROM unnest(nn.held_cpus) AS x WHERE x <> ALL (d.ids)),
                             hugepages_1g_used = nn.hugepages_1g_used - d.pages
                        FROM delta d WHERE nn.host_id = p_host AND nn.node_id = d.node_id RETURNING 1),
         unplaced AS (UPDATE vm SET host_id = NULL, numa_nodes = '{}', updated_at = now() WHERE id = p_vm
                      RETURNING memory_mib)
    UPDATE host SET used_gpus = used_gpus - (SELECT count(*) FROM devices WHERE kind = 'gpu'),
           used_cpus = used_cpus - (SELECT count(*) FROM cpus),
           used_memory_mib = used_memory_mib - (SELECT memory_mib FROM unplaced),
           used_hugepages_1g = used_hugepages_1g - (SELECT coalesce(sum(hugepages_1g), 0) FROM pages),
           alloc_version = alloc_version + 1
     WHERE id = p_host;
END
$$;

-- Generic plans, pinned to the indexes: a generic plan is built once per connection and kept until
-- the tables' statistics change, so one built while a table looked empty (vm and vm_hugepages right
-- after a fleet is loaded and analyzed) most likely keeps a sequential scan of vm for every claim (the
-- plan itself was not captured; pg_class still showed vm with 0 rows and 0 pages during the run; measured:
-- claim_placement 6.8-9.7 ms instead of ~1 ms in the 15 s single-client benchmark; the old functions in
-- the default mode fell into the same trap in some runs, 6.8 ms). Every statement in these functions is
-- a key lookup that has an index, so sequential scans are switched off inside them.
ALTER FUNCTION claim_placement(uuid, uuid, bigint, bigint[], integer[], integer[], integer[], bigint, bigint)
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION release_placement(uuid, uuid) SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION claim_placement_at(bigint, timestamptz, uuid, uuid, bigint, bigint[], integer[], integer[],
                                  integer[], bigint, bigint)
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION release_placement_of(uuid) SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
