-- Claims and releases rewrite the VM's row in place (HOT updates), as V17 did for devices and
-- partitions (issue: placement).
--
-- Measured before (one-client pgbench of a release followed by a claim, docs/bench/claim-cycle.sql, on a
-- copy of the placement benchmark's database, PostgreSQL CPU per cycle from the postmaster's child
-- times, three rounds alternating): 0.97 ms. A claim sets vm.host_id and a release clears it, and
-- vm_host_idx indexes that column, so neither update could stay on its page: each wrote a new row
-- version plus an entry in every one of vm's six indexes (primary key, project, name, state, creation
-- time, host), and left the old entries for vacuum. Without vm_host_idx both updates are HOT: 0.86 ms
-- (-11 %). This migration as a whole, against V22 in four other rounds: -7 % on the means.
--
-- What vm_host_idx answered, "which VMs are placed on this host" (reconcile after a worker restart,
-- maintenance and mode-switch refusals, the console's host page), is answered by the VM's hugepages
-- instead. Every placed VM holds at least one 1 GiB page on its host: memory_mib is positive, a claim
-- takes ceil(memory / 1 GiB) pages, and the placement audit checks exactly that. A claim inserts those
-- rows and a release deletes them, so keying vm_hugepages by host first costs no extra write at all.
-- Readers of one VM's pages name its host, as they already do for its devices and partitions (V17).

DROP INDEX vm_host_idx;
-- Room on each page for the next version of a row, for the pages written from now on. NUMA node and host
-- rows are updated in place by every claim and release already, but once their pages were full one update
-- in seven of a NUMA node (one in twenty-three of a host) had to move the row and index it anew.
ALTER TABLE vm SET (fillfactor = 80);
ALTER TABLE numa_node SET (fillfactor = 80);
ALTER TABLE host SET (fillfactor = 80);

ALTER TABLE vm_hugepages DROP CONSTRAINT vm_hugepages_pkey, ADD PRIMARY KEY (host_id, vm_id, node_id);

-- The VMs placed on a host (holding its devices, CPUs and memory), found through their hugepages.
-- A plain SQL function, so the planner inlines it into the caller's query and uses the primary key.
CREATE FUNCTION vms_placed_on(p_host uuid) RETURNS TABLE (vm_id uuid) LANGUAGE sql STABLE AS $$
    SELECT DISTINCT h.vm_id FROM vm_hugepages h WHERE h.host_id = p_host
$$;

-- As in V17, except that the VM's pages are found by host and VM.
CREATE OR REPLACE FUNCTION release_placement(p_vm uuid, p_host uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_cpus integer[];
BEGIN
    SELECT cpu_ids INTO v_cpus FROM vm WHERE id = p_vm;
    v_cpus := coalesce(v_cpus, '{}');
    WITH partitions AS (UPDATE gpu_partition SET vm_id = NULL WHERE host_id = p_host AND vm_id = p_vm RETURNING 1),
         devices AS (UPDATE pci_device SET vm_id = NULL WHERE host_id = p_host AND vm_id = p_vm RETURNING kind),
         pages AS (DELETE FROM vm_hugepages WHERE host_id = p_host AND vm_id = p_vm RETURNING node_id, hugepages_1g),
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
ALTER FUNCTION release_placement(uuid, uuid) SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
