-- Monthly invoices per project (docs/reporting.md). Per-second accounting over VM billing spans.

-- The month segments of reporting.billing_span_monthly split wherever a rate_card row for the
-- segment's instance type (and its location, or any location) takes effect inside the segment, so
-- each piece is priced at the rate in force during the whole piece (location-specific row first).
-- seconds is exact (fractional) and already multiplied by the span's quantity; price_per_hour is NULL
-- for instance types the rate card does not know.
CREATE VIEW reporting.billing_piece AS
SELECT s.span_id, s.project_id, s.vm_id, s.instance_type, s.location, s.quantity, s.gpu_count, s.month,
       c.piece_start, c.piece_end, r.price_per_hour, r.effective_from AS rate_effective_from,
       extract(epoch FROM c.piece_end - c.piece_start) * s.quantity AS seconds
  FROM reporting.billing_span_monthly s
  CROSS JOIN LATERAL (
      SELECT b.t AS piece_start, coalesce(lead(b.t) OVER (ORDER BY b.t), s.seg_end) AS piece_end
        FROM (SELECT s.seg_start AS t
              UNION
              SELECT rc.effective_from FROM reporting.rate_card rc
               WHERE rc.instance_type = s.instance_type AND (rc.location = s.location OR rc.location IS NULL)
                 AND rc.effective_from > s.seg_start AND rc.effective_from < s.seg_end) b
  ) c
  LEFT JOIN LATERAL (
      SELECT rc.price_per_hour, rc.effective_from FROM reporting.rate_card rc
       WHERE rc.instance_type = s.instance_type AND (rc.location = s.location OR rc.location IS NULL)
         AND rc.effective_from <= c.piece_start
       ORDER BY rc.location IS NULL, rc.effective_from DESC LIMIT 1) r ON true;

-- Invoice lines: per project, month, instance type, location and rate in force. seconds are whole
-- seconds, truncated once per line from the exact sum; amount = seconds x price_per_hour / 3600,
-- rounded half-up to cents once per line (0 for an unpriced type, price_per_hour NULL).
CREATE VIEW reporting.invoice_line AS
SELECT t.id AS tenant_id, t.name AS tenant_name, p.id AS project_id, p.name AS project_name, l.month,
       l.instance_type, l.location, l.price_per_hour, l.rate_effective_from,
       l.period_start, l.period_end, l.vms, l.seconds,
       round(l.seconds / 3600.0, 4)                                        AS hours,
       round(l.seconds * coalesce(l.price_per_hour, 0) / 3600, 2)          AS amount
  FROM (SELECT bp.project_id, bp.month, bp.instance_type, bp.location, bp.price_per_hour, bp.rate_effective_from,
               min(bp.piece_start) AS period_start, max(bp.piece_end) AS period_end,
               count(DISTINCT bp.vm_id)::integer AS vms, floor(sum(bp.seconds))::bigint AS seconds
          FROM reporting.billing_piece bp
         GROUP BY bp.project_id, bp.month, bp.instance_type, bp.location, bp.price_per_hour, bp.rate_effective_from) l
  JOIN project p ON p.id = l.project_id
  JOIN tenant t ON t.id = p.tenant_id;

-- One invoice per project and month: subtotal = the sum of its line amounts; no taxes or discounts,
-- so total = subtotal.
CREATE VIEW reporting.invoice AS
SELECT tenant_id, tenant_name, project_id, project_name, month,
       count(*)::integer AS lines, sum(seconds)::bigint AS seconds,
       sum(amount) AS subtotal, sum(amount) AS total
  FROM reporting.invoice_line
 GROUP BY tenant_id, tenant_name, project_id, project_name, month;
