-- pgbench script: release one placed VM and claim the same placement again, through the same two
-- functions and as the same two transactions as the control plane (release_placement_of, claim_placement_at).
-- Run with one client (-c 1), so that no two cycles meet on a host.
\set i random(1, 400)
SELECT coalesce((SELECT r.new_version FROM bench_vm b, release_placement_of(b.vm) r WHERE b.i = :i), -1) AS v \gset
\if :v >= 0
SELECT claim_placement_at(:v, h.topology_reported_at, b.vm, b.host, b.part, b.gpus, b.cpus, b.nodes, b.pages, b.mem, NULL)
  FROM bench_vm b JOIN host h ON h.id = b.host WHERE b.i = :i;
\endif
