-- Private address allocation without waiting for a concurrent allocation to commit (issue: provisioning).
--
-- V21 lists a candidate it skips (another transaction holds its lock) in vm_address_free, so that the
-- address is offered again should that transaction roll back. When several allocations in one location
-- skip the same candidate at once, each INSERT ... ON CONFLICT waited for the first lister's transaction,
-- which commits only when its whole placing label does: the provisioning benchmark (32 clients, one
-- location) measured 2.2 ms of such waiting in 42 % of allocations, a convoy inside the placing
-- transactions of a location.
--
-- Now a skipped candidate is listed by one transaction at a time: a second advisory lock per address
-- (key 'vm_address_free:' || location) says who is listing it, and a transaction that finds it taken
-- leaves the listing to that one and moves on. The address is lost to the list only if both the
-- transaction taking it and the one listing it roll back; so before it declares a location full, an
-- allocation looks for such an address (one neither taken nor listed below the highest taken) and takes
-- it. Everything else is V21's.
CREATE OR REPLACE FUNCTION allocate_vm_address(p_vm uuid, p_location text) RETURNS inet
LANGUAGE plpgsql AS $$
DECLARE
    base     inet;
    current  inet;
    offs     bigint := 10;
    freed    bigint;
    listed   boolean;
    lockkey  integer := hashtext('vm_address:' || p_location);
    listkey  integer := hashtext('vm_address_free:' || p_location);
    gap      bigint;
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
            -- full, unless an address fell off the list (both its taker and its lister rolled back)
            FOR gap IN SELECT o FROM generate_series(10, 65534) o
                        WHERE NOT EXISTS (SELECT 1 FROM vm_address a
                                           WHERE a.location = p_location AND a.address = base + o)
                          AND NOT EXISTS (SELECT 1 FROM vm_address_free f
                                           WHERE f.location = p_location AND f.address = base + o)
                        ORDER BY o LOOP
                IF pg_try_advisory_xact_lock(lockkey, gap::integer) THEN
                    INSERT INTO vm_address (vm_id, location, address) VALUES (p_vm, p_location, base + gap)
                    ON CONFLICT (location, address) DO NOTHING
                    RETURNING address INTO current;
                    IF current IS NOT NULL THEN
                        RETURN current;
                    END IF;
                END IF;
            END LOOP;
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
        ELSIF NOT listed AND pg_try_advisory_xact_lock(listkey, offs::integer) THEN
            -- another transaction is taking it; should that one roll back, the address stays listed (a
            -- listed one stays listed by itself: the other transaction's delete of the entry rolls back).
            -- Only the holder of the listing lock inserts, so no insert here waits for another's commit.
            INSERT INTO vm_address_free (location, address) VALUES (p_location, base + offs) ON CONFLICT DO NOTHING;
        END IF;
        offs := offs + 1;
    END LOOP;
END $$;
