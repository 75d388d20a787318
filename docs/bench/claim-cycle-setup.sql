-- One row per placed VM of a placement-benchmark database, with everything needed to claim it again
-- exactly as it is placed now. Used by claim-cycle.sql (see docs/benchmarks.md, "checks only where written").
DROP TABLE IF EXISTS bench_vm;
CREATE TABLE bench_vm AS
SELECT row_number() OVER (ORDER BY v.id) AS i, v.id AS vm, v.host_id AS host,
       (SELECT p.id FROM gpu_partition p WHERE p.host_id = v.host_id AND p.vm_id = v.id) AS part,
       coalesce((SELECT array_agg(d.id ORDER BY d.id) FROM pci_device d
                  WHERE d.host_id = v.host_id AND d.vm_id = v.id AND d.kind = 'gpu'), '{}') AS gpus,
       v.cpu_ids AS cpus,
       (SELECT array_agg(h.node_id ORDER BY h.node_id) FROM vm_hugepages h WHERE h.vm_id = v.id) AS nodes,
       (SELECT array_agg(h.hugepages_1g ORDER BY h.node_id) FROM vm_hugepages h WHERE h.vm_id = v.id) AS pages,
       v.memory_mib AS mem
  FROM vm v WHERE v.host_id IS NOT NULL;
CREATE UNIQUE INDEX ON bench_vm (i);
ANALYZE;
