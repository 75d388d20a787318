-- A VM's CPUs as one set instead of one row each (placement's critical path, issue: placement).
--
-- Measured before (placement benchmark, 10,000 hosts, 64 clients, pg_stat_statements with track=all):
-- the claim's CPU step (UPDATE cpu ... per CPU, its RETURNING, the NUMA counters) was 47 % of the
-- claim's time, and the foreign key cpu.vm_id -> vm ran 36 RI queries per claim. An average VM holds 31
-- CPUs, an 8-GPU VM 96: that many new heap tuples and index entries to claim and again to release.
--
-- Now:
-- - numa_node.held_cpus is the source of truth for which CPUs of a node are held (it was a cache of
--   cpu.vm_id). A claim adds a VM's CPUs to it only if none of them is in it already (array overlap,
--   checked in the same UPDATE that holds the row lock), and numa_held_cpus_distinct makes a CPU held
--   twice impossible, whatever the code does.
-- - vm.cpu_ids records which CPUs a VM holds (for vcpupin, release, the console and the audit).
-- - the cpu table keeps only the topology (socket, core, node, siblings); a claim reads it to check that
--   every CPU exists on that host and to learn its node. That read replaces per-CPU writes.
-- Claim and release still run in one transaction with every write conditional and its row count checked;
-- any shortfall raises GC001 and rolls back everything.

ALTER TABLE vm ADD COLUMN cpu_ids integer[] NOT NULL DEFAULT '{}';
UPDATE vm v SET cpu_ids = c.ids
  FROM (SELECT vm_id, array_agg(cpu_id ORDER BY cpu_id) AS ids FROM cpu WHERE vm_id IS NOT NULL GROUP BY vm_id) c
 WHERE c.vm_id = v.id;
ALTER TABLE vm ADD CONSTRAINT vm_cpus_only_when_placed CHECK (host_id IS NOT NULL OR cardinality(cpu_ids) = 0);

-- true when the array has no element twice (NULL elements never occur: CPU ids are NOT NULL where they come from)
CREATE FUNCTION int_array_is_set(a integer[]) RETURNS boolean LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT count(DISTINCT x) = count(*) FROM unnest(a) AS x
$$;
ALTER TABLE numa_node ADD CONSTRAINT numa_held_cpus_distinct CHECK (int_array_is_set(held_cpus));

DROP INDEX cpu_vm_idx;
ALTER TABLE cpu DROP COLUMN vm_id;

-- Which VM holds which CPU, for readers that think in rows (audit, console, tests).
CREATE VIEW vm_cpu AS
SELECT v.id AS vm_id, v.host_id, c.cpu_id
  FROM vm v CROSS JOIN LATERAL unnest(v.cpu_ids) AS c(cpu_id)
 WHERE v.host_id IS NOT NULL;

CREATE OR REPLACE FUNCTION claim_placement(p_vm uuid, p_host uuid, p_partition bigint, p_gpus bigint[],
                                           p_cpus integer[], p_nodes integer[], p_pages integer[],
                                           p_memory_mib bigint, p_expected_secs bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    siblings bigint;
    wanted bigint;
    nodes_wanted bigint;
    nodes_updated bigint;
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
        -- The CPUs' nodes come from the topology (a read); each node's row is then updated once, for its
        -- CPUs and hugepages together, and only if none of its wanted CPUs is held already. A CPU that is
        -- not on this host, or is held, leaves a node row unchanged and the counts below short: GC001.
        WITH cpus AS (SELECT c.node_id, count(*) AS n, array_agg(c.cpu_id ORDER BY c.cpu_id) AS ids
                        FROM cpu c WHERE c.host_id = p_host AND c.cpu_id = ANY (p_cpus) GROUP BY c.node_id),
             pages AS (SELECT u.node_id, u.pages FROM unnest(p_nodes, p_pages) AS u(node_id, pages)),
             hugepages AS (INSERT INTO vm_hugepages (vm_id, host_id, node_id, hugepages_1g)
                           SELECT p_vm, p_host, node_id, pages FROM pages),
             delta AS (SELECT coalesce(c.node_id, p.node_id) AS node_id, coalesce(c.n, 0) AS n,
                              coalesce(c.ids, '{}') AS ids, coalesce(p.pages, 0) AS pages
                         FROM cpus c FULL JOIN pages p ON p.node_id = c.node_id),
             counters AS (UPDATE numa_node nn SET used_cpus = nn.used_cpus + d.n, held_cpus = nn.held_cpus || d.ids,
                                 hugepages_1g_used = nn.hugepages_1g_used + d.pages
                            FROM delta d
                           WHERE nn.host_id = p_host AND nn.node_id = d.node_id AND NOT (nn.held_cpus && d.ids)
                          RETURNING d.n)
        SELECT coalesce(sum(c.n), 0), count(*), (SELECT count(*) FROM delta) INTO n, nodes_updated, nodes_wanted
          FROM counters c;
        IF n <> cpus_wanted OR nodes_updated <> nodes_wanted THEN
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

    UPDATE vm SET host_id = p_host, numa_nodes = p_nodes, cpu_ids = coalesce(p_cpus, '{}'), updated_at = now(),
           expected_end_at = CASE WHEN p_expected_secs IS NULL THEN NULL
                                  ELSE now() + make_interval(secs => p_expected_secs) END
     WHERE id = p_vm AND host_id IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n <> 1 THEN RAISE EXCEPTION 'VM % is already placed', p_vm USING ERRCODE = 'GC001'; END IF;
END
$$;

-- Gives back everything a VM holds in one statement (PostgreSQL runs every data-modifying CTE to
-- completion whether or not the outer query reads it); the caller has locked the VM row and then the
-- host row (claims lock the host too). The VM's CPUs leave the nodes' held sets by value, so a node
-- row is touched only if it held some of them.
CREATE OR REPLACE FUNCTION release_placement(p_vm uuid, p_host uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_cpus integer[];
BEGIN
    SELECT cpu_ids INTO v_cpus FROM vm WHERE id = p_vm;
    v_cpus := coalesce(v_cpus, '{}');
    WITH partitions AS (UPDATE gpu_partition SET vm_id = NULL WHERE vm_id = p_vm RETURNING 1),
         devices AS (UPDATE pci_device SET vm_id = NULL WHERE vm_id = p_vm RETURNING kind),
         pages AS (DELETE FROM vm_hugepages WHERE vm_id = p_vm RETURNING node_id, hugepages_1g),
         page_nodes AS (SELECT node_id, sum(hugepages_1g) AS pages FROM pages GROUP BY node_id),
         counters AS (UPDATE numa_node nn
                         SET held_cpus = ARRAY(SELECT x FROM unnest(nn.held_cpus) AS x WHERE x <> ALL (v_cpus)),
                             used_cpus = nn.used_cpus
                                         - (SELECT count(*) FROM unnest(nn.held_cpus) AS x WHERE x = ANY (v_cpus)),
                             hugepages_1g_used = nn.hugepages_1g_used
                                                 - coalesce((SELECT pn.pages FROM page_nodes pn
                                                              WHERE pn.node_id = nn.node_id), 0)
                       WHERE nn.host_id = p_host
                         AND (nn.held_cpus && v_cpus OR nn.node_id IN (SELECT node_id FROM page_nodes))
                      RETURNING 1),
         unplaced AS (UPDATE vm SET host_id = NULL, numa_nodes = '{}', cpu_ids = '{}', updated_at = now()
                       WHERE id = p_vm RETURNING memory_mib)
    UPDATE host SET used_gpus = used_gpus - (SELECT count(*) FROM devices WHERE kind = 'gpu'),
           used_cpus = used_cpus - cardinality(v_cpus),
           used_memory_mib = used_memory_mib - (SELECT memory_mib FROM unplaced),
           used_hugepages_1g = used_hugepages_1g - (SELECT coalesce(sum(hugepages_1g), 0) FROM pages),
           alloc_version = alloc_version + 1
     WHERE id = p_host;
END
$$;

-- CREATE OR REPLACE drops the settings V14 gave these two; the reasons there still hold.
ALTER FUNCTION claim_placement(uuid, uuid, bigint, bigint[], integer[], integer[], integer[], bigint, bigint)
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION release_placement(uuid, uuid) SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
