-- Claims and releases rewrite device and partition rows in place (HOT updates), issue: placement.
--
-- Measured before (placement benchmark, 10,000 hosts, 64 clients, pg_stat_user_tables over 20 s of the
-- steady state): 68,093 pci_device and 26,285 gpu_partition updates, none of them HOT. Setting or
-- clearing vm_id changed an indexed column (pci_device_vm_idx, gpu_partition_vm_idx), so every claim
-- and every release wrote a new tuple plus an entry in each of the table's indexes (five for
-- pci_device, three for gpu_partition) and left the old entries for vacuum. Release was the most
-- expensive statement of the benchmark (1.24 ms mean).
--
-- Every reader that asks "what does this VM hold" knows the VM's host, so it now asks by (host_id,
-- vm_id) through the host's indexes (a host has tens of devices and fifteen partitions) and vm_id is
-- no longer indexed: an update that only sets or clears it changes no index and stays on its page.
-- The fill factor leaves room on each page for that new row version; it applies to pages written from
-- now on (VACUUM FULL pci_device, gpu_partition applies it to an existing fleet at once).
--
-- gpu_partition_vm_idx was also unique: a VM held at most one partition. claim_placement still
-- guarantees it: a claim sets at most one partition and only for a VM that is not placed yet
-- (vm.host_id IS NULL, checked in the same transaction), and the audit reports a VM with two.
DROP INDEX pci_device_vm_idx;
DROP INDEX gpu_partition_vm_idx;
ALTER TABLE pci_device SET (fillfactor = 80);
ALTER TABLE gpu_partition SET (fillfactor = 80);

CREATE OR REPLACE FUNCTION release_placement(p_vm uuid, p_host uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_cpus integer[];
BEGIN
    SELECT cpu_ids INTO v_cpus FROM vm WHERE id = p_vm;
    v_cpus := coalesce(v_cpus, '{}');
    WITH partitions AS (UPDATE gpu_partition SET vm_id = NULL WHERE host_id = p_host AND vm_id = p_vm RETURNING 1),
         devices AS (UPDATE pci_device SET vm_id = NULL WHERE host_id = p_host AND vm_id = p_vm RETURNING kind),
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
ALTER FUNCTION release_placement(uuid, uuid) SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;

-- numa_held_cpus_distinct (V15) calls this for every numa_node row a claim or release writes. As a SQL
-- function that PostgreSQL 17 cannot inline into a CHECK, its body was parsed and planned again in every
-- statement: auto_explain showed the release's two-row numa_node update at 1.3 to 2.2 ms, 0.2 to 0.5 ms
-- with PL/pgSQL, whose plan a connection caches. Same answer for every array.
CREATE OR REPLACE FUNCTION int_array_is_set(a integer[]) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT count(DISTINCT x) = count(*) FROM unnest(a) AS x);
END
$$;
