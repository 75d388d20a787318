-- Private address allocation without reading the location's taken addresses.
--
-- V16 found the lowest free address with one ordered pass over the (location, address) index that
-- stopped at the first gap. Freed addresses are reused lowest first, so in a busy location the run of
-- taken addresses from .0.10 grows with the location, and every allocation read all of it: 0.5 ms per
-- call with about 1,000 VMs in the location (provisioning benchmark, pg_stat_statements), growing
-- linearly towards the /16's 65,525 addresses, inside the placing transaction.
--
-- The free addresses below a location's highest taken one are now kept in vm_address_free: a trigger
-- records each address whose row is deleted, and an allocation takes the lowest of (the lowest freed
-- address, one past the highest taken), both single index probes. Allocations give the same
-- addresses as V16 (the lowest free one from .0.10), and concurrency is V16's: each candidate is
-- locked on its own with pg_try_advisory_xact_lock, a transaction that finds it locked moves on to the
-- next instead of waiting, and ON CONFLICT catches a candidate committed since this one looked.
--
-- Two cases keep the list complete and correct. A candidate skipped because another transaction
-- holds its lock is recorded as free: if that transaction rolls back, the address would otherwise lie
-- below the highest taken one without being listed, and never be offered again. An entry whose address
-- turns out to be taken (that transaction committed after all) is deleted when an allocation meets it.
CREATE TABLE vm_address_free (
    location  text NOT NULL REFERENCES location_subnet (location),
    address   inet NOT NULL,
    PRIMARY KEY (location, address)
);

-- the gaps below each location's highest taken address, as they are now
INSERT INTO vm_address_free (location, address)
SELECT s.location, s.base + o
  FROM (SELECT location, ('10.' || subnet_index || '.0.0')::inet AS base FROM location_subnet) s
  JOIN LATERAL (SELECT max(a.address) - s.base AS top FROM vm_address a WHERE a.location = s.location) m
    ON m.top IS NOT NULL
 CROSS JOIN LATERAL generate_series(10, m.top - 1) o
 WHERE NOT EXISTS (SELECT 1 FROM vm_address a WHERE a.location = s.location AND a.address = s.base + o);

CREATE FUNCTION vm_address_freed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO vm_address_free (location, address) VALUES (OLD.location, OLD.address) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER vm_address_freed AFTER DELETE ON vm_address
    FOR EACH ROW EXECUTE FUNCTION vm_address_freed();

CREATE OR REPLACE FUNCTION allocate_vm_address(p_vm uuid, p_location text) RETURNS inet
LANGUAGE plpgsql AS $$
DECLARE
    base    inet;
    current inet;
    offs    bigint := 10;
    freed   bigint;
    listed  boolean;
    lockkey integer := hashtext('vm_address:' || p_location);
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

    SELECT address INTO current FROM vm_address WHERE vm_id = p_vm AND location = p_location;
    IF current IS NOT NULL THEN
        RETURN current;
    END IF;
    DELETE FROM vm_address WHERE vm_id = p_vm; -- placed again elsewhere after a failed attempt

    LOOP
        -- the lowest candidate from offs up: a freed address, or one past the highest taken
        SELECT f.address - base INTO freed FROM vm_address_free f
         WHERE f.location = p_location AND f.address >= base + offs
         ORDER BY f.address LIMIT 1;
        SELECT greatest(offs, coalesce(max(a.address) - base, 9) + 1) INTO offs
          FROM vm_address a WHERE a.location = p_location;
        listed := freed IS NOT NULL AND freed <= offs;
        IF listed THEN
            offs := freed;
        END IF;
        IF offs > 65534 THEN
            RAISE EXCEPTION 'no free private address in location %', p_location;
        END IF;
        IF pg_try_advisory_xact_lock(lockkey, offs::integer) THEN
            INSERT INTO vm_address (vm_id, location, address) VALUES (p_vm, p_location, base + offs)
            ON CONFLICT (location, address) DO NOTHING
            RETURNING address INTO current;
            -- taken now, by this transaction or (a stale entry) by one that committed since
            DELETE FROM vm_address_free WHERE location = p_location AND address = base + offs;
            IF current IS NOT NULL THEN
                RETURN current;
            END IF;
        ELSIF NOT listed THEN
            -- another transaction is taking it; should that one roll back, the address stays listed (a
            -- listed one stays listed by itself: the other transaction's delete of the entry rolls back)
            INSERT INTO vm_address_free (location, address) VALUES (p_location, base + offs) ON CONFLICT DO NOTHING;
        END IF;
        offs := offs + 1;
    END LOOP;
END $$;
