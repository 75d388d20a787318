-- Boot images and cloud-init user data on VMs, private IPv4 addresses allocated by the control plane,
-- operator-entered rates, and the tenant-usage report priced the way invoices are.

-- ---- boot image and user data ----
-- boot_image is the catalog name (catalog/boot-images.json) and boot_disk the image path on the host,
-- both copied at creation so a later catalog change does not move an existing VM's disk. user_data is
-- the customer's cloud-init text (at most 16 KiB of UTF-8); the API shows its size and SHA-256 only.
ALTER TABLE vm ADD COLUMN boot_image text;
ALTER TABLE vm ADD COLUMN boot_disk text;
ALTER TABLE vm ADD COLUMN user_data text CHECK (octet_length(user_data) <= 16384);

-- ---- private IPv4 addresses ----
-- Each location gets its own /16, 10.<subnet_index>.0.0/16, numbered in order of first use.
CREATE TABLE location_subnet (
    location      text PRIMARY KEY,
    subnet_index  integer     NOT NULL UNIQUE CHECK (subnet_index BETWEEN 1 AND 254),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- One address per placed VM, unique within its location. Allocated when placement gives the VM a
-- host, kept while it runs or is stopped, released (row deleted) when the VM is deleted or fails.
CREATE TABLE vm_address (
    vm_id         uuid PRIMARY KEY REFERENCES vm (id) ON DELETE CASCADE,
    location      text        NOT NULL REFERENCES location_subnet (location),
    address       inet        NOT NULL,
    allocated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT vm_address_unique_per_location UNIQUE (location, address)
);

-- The lowest free address of the location's subnet from .0.10 up (.0.1-.0.9 are left for gateways
-- and services); the VM's current address when it already has one there. Deterministic: the same
-- sequence of allocations and releases gives the same addresses. Serialized per location by an
-- advisory lock held until commit, so concurrent allocations cannot pick the same address (and the
-- unique constraint would refuse it anyway). A location with no subnet yet gets the lowest free index.
CREATE FUNCTION allocate_vm_address(p_vm uuid, p_location text) RETURNS inet
LANGUAGE plpgsql AS $$
DECLARE
    base    inet;
    current inet;
    offs    bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM location_subnet WHERE location = p_location) THEN
        -- a location's first address: numbering a new subnet is serialized across locations
        PERFORM pg_advisory_xact_lock(hashtext('location_subnet'));
        INSERT INTO location_subnet (location, subnet_index)
        SELECT p_location, coalesce((SELECT min(i) FROM generate_series(1, 254) i
                                      WHERE NOT EXISTS (SELECT 1 FROM location_subnet s WHERE s.subnet_index = i)), 0)
        ON CONFLICT (location) DO NOTHING;
    END IF;
    SELECT ('10.' || subnet_index || '.0.0')::inet INTO base FROM location_subnet WHERE location = p_location;

    PERFORM pg_advisory_xact_lock(hashtext('vm_address:' || p_location));
    SELECT address INTO current FROM vm_address WHERE vm_id = p_vm AND location = p_location;
    IF current IS NOT NULL THEN
        RETURN current;
    END IF;
    DELETE FROM vm_address WHERE vm_id = p_vm; -- placed again elsewhere after a failed attempt

    SELECT c.o INTO offs
      FROM (SELECT 10::bigint AS o
            UNION ALL
            SELECT (a.address - base) + 1 FROM vm_address a WHERE a.location = p_location) c
     WHERE c.o BETWEEN 10 AND 65534
       AND NOT EXISTS (SELECT 1 FROM vm_address a WHERE a.location = p_location AND a.address = base + c.o)
     ORDER BY c.o
     LIMIT 1;
    IF offs IS NULL THEN
        RAISE EXCEPTION 'no free private address in location %', p_location;
    END IF;
    INSERT INTO vm_address (vm_id, location, address) VALUES (p_vm, p_location, base + offs);
    RETURN base + offs;
END $$;

CREATE FUNCTION release_vm_address() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM vm_address WHERE vm_id = NEW.id;
    RETURN NEW;
END $$;

-- Whatever path a VM takes to deleted or failed (workflow, admin, a failed VM deleted directly), its
-- address goes back to the pool in the same transaction.
CREATE TRIGGER vm_release_address AFTER UPDATE OF state ON vm
    FOR EACH ROW WHEN (NEW.state IN ('deleted', 'failed') AND OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION release_vm_address();

-- ---- rate card rows entered by operators ----
-- source tells RateCardSync's rows ('catalog': the instance-type catalog's price) from an operator's
-- ('admin', POST /admin/api/v1/rate-cards). RateCardSync compares the catalog only with its own rows,
-- so an operator's rate is not undone at the next start; a changed catalog price still appends a row.
ALTER TABLE reporting.rate_card ADD COLUMN source text NOT NULL DEFAULT 'catalog' CHECK (source IN ('catalog', 'admin'));
ALTER TABLE reporting.rate_card ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();

-- ---- tenant usage priced like invoices ----
-- V5 priced each month segment at the rate in force at its start; invoices (V6) split segments at rate
-- changes. The report now reads the same pieces (reporting.billing_piece) and its revenue is the sum of
-- the project's invoice line amounts for the month, so report and invoice agree to the cent.
CREATE OR REPLACE VIEW reporting.tenant_usage_monthly AS
WITH piece AS (
    SELECT bp.project_id, bp.month, bp.vm_id, bp.gpu_count, bp.price_per_hour, bp.seconds / 3600.0 AS hours
      FROM reporting.billing_piece bp
), usage AS (
    SELECT project_id, month,
           count(DISTINCT vm_id)::integer                                            AS vms,
           sum(hours)                                                                AS hours,
           sum(hours * gpu_count)                                                    AS gpu_hours,
           coalesce(sum(hours) FILTER (WHERE price_per_hour IS NULL), 0)             AS unpriced_hours
      FROM piece
     GROUP BY project_id, month
)
SELECT t.id AS tenant_id, t.name AS tenant_name, p.id AS project_id, p.name AS project_name, u.month,
       u.vms,
       round(u.hours::numeric, 4)                                                    AS instance_hours,
       round(u.gpu_hours::numeric, 4)                                                AS gpu_hours,
       round(coalesce((SELECT sum(l.amount) FROM reporting.invoice_line l
                        WHERE l.project_id = u.project_id AND l.month = u.month), 0)::numeric, 2) AS revenue,
       round(u.unpriced_hours::numeric, 4)                                           AS unpriced_instance_hours
  FROM usage u
  JOIN project p ON p.id = u.project_id
  JOIN tenant t ON t.id = p.tenant_id;
