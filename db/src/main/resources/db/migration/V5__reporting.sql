-- Reporting: read-only views for operators, finance and capacity planning (docs/reporting.md).
-- Everything lives in its own schema so that psql users can be granted USAGE on "reporting" alone.

CREATE SCHEMA reporting;

-- Prices per instance type, as of effective_from. location NULL applies to every location; a row for
-- a location wins over the NULL row. The control plane keeps it in step with the instance-type
-- catalog at startup (RateCardSync); a price change appends a row instead of rewriting history.
CREATE TABLE reporting.rate_card (
    instance_type   text          NOT NULL,
    location        text,
    price_per_hour  numeric(12,4) NOT NULL CHECK (price_per_hour >= 0),
    effective_from  timestamptz   NOT NULL
);
CREATE UNIQUE INDEX rate_card_key_idx ON reporting.rate_card (instance_type, coalesce(location, ''), effective_from);

-- GPU totals per location and model, written by the control plane's UtilizationSampler.
CREATE TABLE reporting.utilization_sample (
    sampled_at  timestamptz NOT NULL,
    location    text        NOT NULL,
    gpu_model   text        NOT NULL,
    total       integer     NOT NULL CHECK (total >= 0),
    allocated   integer     NOT NULL CHECK (allocated >= 0),
    PRIMARY KEY (location, gpu_model, sampled_at)
);
CREATE INDEX utilization_sample_at_idx ON reporting.utilization_sample (sampled_at);

-- GPUs per location and model on hosts that are not retired. A GPU is counted in total unless it is
-- missing; allocated when a VM holds it; free when it is healthy, unheld and its host is ready.
CREATE VIEW reporting.capacity AS
SELECT h.location,
       coalesce(d.model, h.gpu_model)                                                AS gpu_model,
       count(DISTINCT h.id)::integer                                                  AS hosts,
       count(*) FILTER (WHERE d.health <> 'missing')::integer                         AS total_gpus,
       count(*) FILTER (WHERE d.vm_id IS NOT NULL)::integer                           AS allocated_gpus,
       count(*) FILTER (WHERE d.health = 'ok' AND d.vm_id IS NULL AND h.state = 'ready')::integer AS free_gpus,
       count(*) FILTER (WHERE d.health = 'suspect')::integer                          AS suspect_gpus,
       count(*) FILTER (WHERE d.health = 'quarantined')::integer                      AS quarantined_gpus,
       count(*) FILTER (WHERE d.health = 'missing')::integer                          AS missing_gpus,
       count(*) FILTER (WHERE h.state = 'unreachable' AND d.health <> 'missing')::integer AS unreachable_gpus,
       count(*) FILTER (WHERE d.health = 'ok' AND d.vm_id IS NULL
                          AND h.state NOT IN ('ready', 'unreachable'))::integer        AS unschedulable_gpus
  FROM host h
  JOIN pci_device d ON d.host_id = h.id AND d.kind = 'gpu'
 WHERE h.state <> 'retired'
 GROUP BY h.location, coalesce(d.model, h.gpu_model);

-- Fabric partitions with their state, the same rules as the admin host detail (HostQueries):
-- allocated (a VM holds it), unavailable (Fabric Manager says no, or a member GPU is not ok),
-- blocked (a member GPU is held through another partition), else free.
CREATE VIEW reporting.partition_state AS
SELECT p.host_id, p.id AS partition_row_id, p.partition_id, p.gpu_count, p.vm_id,
       CASE WHEN p.vm_id IS NOT NULL THEN 'allocated'
            WHEN NOT p.available OR EXISTS (SELECT 1 FROM gpu_partition_member m JOIN pci_device d ON d.id = m.device_id
                                             WHERE m.partition_row_id = p.id AND d.health <> 'ok') THEN 'unavailable'
            WHEN EXISTS (SELECT 1 FROM gpu_partition_member m JOIN pci_device d ON d.id = m.device_id
                          WHERE m.partition_row_id = p.id AND d.vm_id IS NOT NULL) THEN 'blocked'
            ELSE 'free' END AS state
  FROM gpu_partition p;

-- Per host (not retired) and partition size: how many partitions there are and how many are free.
CREATE VIEW reporting.free_partitions AS
SELECT h.id AS host_id, h.name AS host_name, h.location, h.gpu_model, h.state AS host_state,
       ps.gpu_count,
       count(*)::integer                                       AS total_partitions,
       count(*) FILTER (WHERE ps.state = 'free')::integer      AS free_partitions,
       count(*) FILTER (WHERE ps.state = 'allocated')::integer AS allocated_partitions,
       count(*) FILTER (WHERE ps.state = 'blocked')::integer   AS blocked_partitions,
       count(*) FILTER (WHERE ps.state = 'unavailable')::integer AS unavailable_partitions
  FROM host h
  JOIN reporting.partition_state ps ON ps.host_id = h.id
 WHERE h.state <> 'retired'
 GROUP BY h.id, h.name, h.location, h.gpu_model, h.state, ps.gpu_count;

-- Per ready host: the most GPUs one VM could get now. On an NVSwitch host that is the largest free
-- partition; elsewhere every healthy unheld GPU. CPUs, memory and hugepages are host-wide free
-- amounts (placement additionally wants them on the GPUs' NUMA nodes).
CREATE VIEW reporting.largest_placeable AS
SELECT h.id AS host_id, h.name AS host_name, h.location, h.gpu_model, h.fabric_mode,
       g.free_gpus,
       coalesce(fp.largest, 0)                                           AS largest_free_partition,
       CASE WHEN h.fabric_mode = 'SHARED_NVSWITCH' THEN coalesce(fp.largest, 0) ELSE g.free_gpus END
                                                                         AS largest_placeable_gpus,
       h.total_cpus - h.used_cpus                                        AS free_vcpus,
       h.total_memory_mib - h.used_memory_mib                            AS free_memory_mib,
       h.total_hugepages_1g - h.used_hugepages_1g                        AS free_hugepages_1g
  FROM host h
  CROSS JOIN LATERAL (SELECT count(*)::integer AS free_gpus FROM pci_device d
                       WHERE d.host_id = h.id AND d.kind = 'gpu' AND d.health = 'ok' AND d.vm_id IS NULL) g
  LEFT JOIN LATERAL (SELECT max(ps.gpu_count) AS largest FROM reporting.partition_state ps
                      WHERE ps.host_id = h.id AND ps.state = 'free') fp ON true
 WHERE h.state = 'ready';

-- VM billing spans cut at month boundaries (UTC); an open span counts up to now().
CREATE VIEW reporting.billing_span_monthly AS
SELECT b.id AS span_id, b.project_id, b.vm_id, b.instance_type, b.location, b.quantity, v.gpu_count,
       m.month::date AS month,
       greatest(lower(b.period), m.month AT TIME ZONE 'UTC') AS seg_start,
       least(coalesce(upper(b.period), now()), (m.month + interval '1 month') AT TIME ZONE 'UTC') AS seg_end
  FROM billing_span b
  JOIN vm v ON v.id = b.vm_id
  CROSS JOIN LATERAL generate_series(date_trunc('month', lower(b.period) AT TIME ZONE 'UTC'),
                                     date_trunc('month', coalesce(upper(b.period), now()) AT TIME ZONE 'UTC'),
                                     interval '1 month') AS m(month)
 WHERE b.resource = 'vm'
   AND greatest(lower(b.period), m.month AT TIME ZONE 'UTC')
       < least(coalesce(upper(b.period), now()), (m.month + interval '1 month') AT TIME ZONE 'UTC');

-- Per tenant, project and month: instance hours, GPU-hours and revenue. A segment is priced at the
-- rate in force when the segment starts (location-specific rate first); unpriced hours are hours of
-- instance types the rate card does not know.
CREATE VIEW reporting.tenant_usage_monthly AS
WITH seg AS (
    SELECT s.*, extract(epoch FROM s.seg_end - s.seg_start) / 3600.0 * s.quantity AS hours,
           (SELECT r.price_per_hour FROM reporting.rate_card r
             WHERE r.instance_type = s.instance_type AND (r.location = s.location OR r.location IS NULL)
               AND r.effective_from <= s.seg_start
             ORDER BY r.location IS NULL, r.effective_from DESC LIMIT 1) AS price
      FROM reporting.billing_span_monthly s
)
SELECT t.id AS tenant_id, t.name AS tenant_name, p.id AS project_id, p.name AS project_name, seg.month,
       count(DISTINCT seg.vm_id)::integer                                   AS vms,
       round(sum(seg.hours)::numeric, 4)                                    AS instance_hours,
       round(sum(seg.hours * seg.gpu_count)::numeric, 4)                    AS gpu_hours,
       round(coalesce(sum(seg.hours * seg.price), 0)::numeric, 2)           AS revenue,
       round(coalesce(sum(seg.hours) FILTER (WHERE seg.price IS NULL), 0)::numeric, 4) AS unpriced_instance_hours
  FROM seg
  JOIN project p ON p.id = seg.project_id
  JOIN tenant t ON t.id = p.tenant_id
 GROUP BY t.id, t.name, p.id, p.name, seg.month;

-- One row per device that is not healthy, with its host and the reason.
CREATE VIEW reporting.suspect_devices AS
SELECT h.id AS host_id, h.name AS host_name, h.location, h.state AS host_state,
       d.bdf, d.kind, d.model, d.module_id, d.health, d.health_reason, d.health_changed_at, d.vm_id,
       d.last_seen_at
  FROM pci_device d
  JOIN host h ON h.id = d.host_id
 WHERE d.health IN ('suspect', 'quarantined', 'missing')
   AND h.state <> 'retired';

-- Utilization per location, GPU model and hour (UTC), from the samples.
CREATE VIEW reporting.utilization_hourly AS
SELECT date_trunc('hour', s.sampled_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
       s.location, s.gpu_model,
       count(*)::integer                                                     AS samples,
       round(avg(s.total), 2)                                                AS avg_total_gpus,
       round(avg(s.allocated), 2)                                            AS avg_allocated_gpus,
       max(s.allocated)                                                      AS max_allocated_gpus,
       round(CASE WHEN sum(s.total) = 0 THEN 0 ELSE sum(s.allocated)::numeric / sum(s.total) END, 4) AS utilization
  FROM reporting.utilization_sample s
 GROUP BY 1, s.location, s.gpu_model;
