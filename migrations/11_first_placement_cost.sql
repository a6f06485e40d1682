-- The first placement of a large table without reading the tables back for its counts.
--
-- A first placement (an empty placement table, more than 20,000 queued tickets) wrote every
-- ticket's placement, its changes row by row into pg_temp.geo_done, then scanned geo_done
-- four times for the counts and read every open ticket with its placement again to rebuild
-- the addresses (10x offline: ~1.5 s of the pass's ~4.5 s). Such a dataset is now placed by
-- a statement of its own (the bulk statement in geo_place), which writes the placements and,
-- from the same rows, the counts' changes in aggregate (coverage, clusters, plus codes) and
-- the open tickets' address rows into pg_temp.geo_bulk_addresses; geo_rebuild_addresses
-- reads those for that dataset and the table only for the others. Nothing goes into geo_done
-- for it. The counts are the ones geo_count_changes added from geo_done: every ticket of the
-- dataset is new to its table (no old contribution to take back), and the addresses were
-- rebuilt past 20,000 changed tickets before as now.
--
-- An incremental pass over a non-empty table and a full pass (p_full, geo_state.rebuild) are
-- as in 09.

-- The address rows of the datasets a bulk statement placed in this pass (as read by
-- geo_rebuild_addresses from the tables: open tickets with a location; inc: actionable ones).
CREATE OR REPLACE FUNCTION tickets.geo_bulk_table() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.geo_bulk_addresses') IS NULL THEN  -- (no notice when it exists)
        CREATE TEMP TABLE geo_bulk_addresses (
            region_key text, cluster_key text, location_key text, location text, cluster text, clock timestamptz
        ) ON COMMIT DELETE ROWS;
    END IF;
END
$$;

-- Every address counted again (09's), the datasets in p_bulk from pg_temp.geo_bulk_addresses,
-- the others from their tables.
CREATE OR REPLACE FUNCTION tickets.geo_rebuild_addresses(p_bulk text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_inc boolean := 'inc' = ANY (p_bulk);
    v_crq boolean := 'crq' = ANY (p_bulk);
    v_any boolean := cardinality(p_bulk) > 0;
    v_index record;
    v_later text[] := '{}';  -- the indexes dropped for the bulk insert, built after it
BEGIN
    PERFORM tickets.geo_bulk_table();
    DELETE FROM tickets.geo_addresses;
    IF v_any THEN
        -- Every address of a first placement (tens of thousands) inserted at once: its indexes
        -- built after the rows (a sorted build; inserting under the primary key after the
        -- DELETE also checks each key's dead row). Readers of the table wait for this pass
        -- meanwhile, as readers of the placements do (geo_place).
        FOR v_index IN
            SELECT format('ALTER TABLE tickets.geo_addresses DROP CONSTRAINT %I', c.conname) AS drop_it,
                   format('ALTER TABLE tickets.geo_addresses ADD CONSTRAINT %I %s', c.conname,
                          pg_get_constraintdef(c.oid)) AS build
            FROM pg_catalog.pg_constraint c
            WHERE c.conrelid = 'tickets.geo_addresses'::regclass AND c.contype = 'p'
            UNION ALL
            SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
            FROM pg_catalog.pg_index i
            WHERE i.indrelid = 'tickets.geo_addresses'::regclass AND NOT i.indisprimary
        LOOP
            EXECUTE v_index.drop_it;
            v_later := v_later || v_index.build;
        END LOOP;
    END IF;
    INSERT INTO tickets.geo_addresses (region_key, cluster_key, location_key, location, cluster, clock, tickets, waiting)
    SELECT g.*, gc.geom IS NOT NULL AND gl.location_key IS NULL  -- as tickets.geo_address_waiting
    FROM (SELECT o.region_key, o.cluster_key, o.location_key, min(o.location), min(o.cluster), min(o.clock), count(*)
          FROM (SELECT (p.geo_seen).region_key, (p.geo_seen).cluster_key, (p.geo_seen).location_key, t.location,
                       t.cluster, coalesce(t.created_at_service, t.first_seen_at) AS clock
                FROM tickets.inc t JOIN tickets.inc_placement p ON p.ticket_id = t.ticket_id
                WHERE NOT v_inc  -- (a one-time filter: the table is not read)
                  AND p.geo_seen IS NOT NULL AND t.bucket = 'pending' AND t.is_actionable AND t.location IS NOT NULL
                UNION ALL
                SELECT (p.geo_seen).region_key, (p.geo_seen).cluster_key, (p.geo_seen).location_key, t.location,
                       t.cluster, coalesce(t.created_at_service, t.first_seen_at)
                FROM tickets.crq t JOIN tickets.crq_placement p ON p.ticket_id = t.ticket_id
                WHERE NOT v_crq AND p.geo_seen IS NOT NULL AND t.bucket = 'pending' AND t.location IS NOT NULL
                UNION ALL
                SELECT b.region_key, b.cluster_key, b.location_key, b.location, b.cluster, b.clock
                FROM pg_temp.geo_bulk_addresses b
                WHERE v_any
                OFFSET 0) o  -- a fence: worth_asking on the open tickets' keys only, not on every placement
          WHERE tickets.worth_asking(o.location_key, o.cluster_key)
          GROUP BY 1, 2, 3) g (region_key, cluster_key, location_key, location, cluster, clock, tickets)
    LEFT JOIN tickets.geo_clusters gc ON gc.region_key = g.region_key AND gc.cluster_key = g.cluster_key
    LEFT JOIN tickets.geo_locations gl
           ON gl.region_key = g.region_key AND gl.cluster_key = g.cluster_key AND gl.location_key = g.location_key
          AND (gl.status = 'ok' OR NOT coalesce(gl.expires_at <= now(), false));
    FOR i IN 1 .. cardinality(v_later) LOOP
        EXECUTE v_later[i];
    END LOOP;
    UPDATE tickets.geo_state
       SET waiting = (SELECT count(*) FROM tickets.geo_addresses WHERE waiting), expired_until = now();
END
$$;

-- 09's, every dataset from its table (the full pass's geo_rebuild_counts calls it).
CREATE OR REPLACE FUNCTION tickets.geo_rebuild_addresses() RETURNS void
LANGUAGE sql AS $$
    SELECT tickets.geo_rebuild_addresses('{}'::text[])
$$;

-- 08's, with the datasets a bulk statement placed (their coverage, cluster and plus-code
-- changes already written by it, their address rows in pg_temp.geo_bulk_addresses).
DROP FUNCTION tickets.geo_count_changes();
CREATE OR REPLACE FUNCTION tickets.geo_count_changes(p_bulk text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_waiting bigint;  -- the change in addresses waiting for a request
    v_flip    tid[];
BEGIN
    INSERT INTO tickets.geo_coverage AS c (dataset, precision, pending, tickets)
    SELECT x.dataset, x.precision, x.pending, sum(x.delta)
    FROM (SELECT d.dataset, coalesce(d.old_precision, 'none') AS precision, (d.old_seen).pending, -1 AS delta
          FROM pg_temp.geo_done d WHERE d.old_seen IS NOT NULL
          UNION ALL
          SELECT d.dataset, coalesce(d.new_precision, 'none'), (d.new_seen).pending, 1
          FROM pg_temp.geo_done d) x
    GROUP BY 1, 2, 3
    HAVING sum(x.delta) <> 0
    ON CONFLICT (dataset, precision, pending) DO UPDATE SET tickets = c.tickets + excluded.tickets;

    INSERT INTO tickets.geo_cluster_tickets AS c (region_key, cluster_key, tickets, open)
    SELECT x.region_key, x.cluster_key, sum(x.delta), sum(x.open)
    FROM (SELECT (d.old_seen).region_key, (d.old_seen).cluster_key, -1 AS delta, -((d.old_seen).pending::int) AS open
          FROM pg_temp.geo_done d WHERE d.old_seen IS NOT NULL AND d.old_seen IS DISTINCT FROM d.new_seen
          UNION ALL
          SELECT (d.new_seen).region_key, (d.new_seen).cluster_key, 1, (d.new_seen).pending::int
          FROM pg_temp.geo_done d WHERE d.old_seen IS DISTINCT FROM d.new_seen) x
    GROUP BY 1, 2
    HAVING sum(x.delta) <> 0 OR sum(x.open) <> 0
    ON CONFLICT (region_key, cluster_key) DO UPDATE
        SET tickets = c.tickets + excluded.tickets, open = c.open + excluded.open;

    -- Location texts that may hold a plus code, for the plus-code step.
    INSERT INTO tickets.geo_plus_codes AS p (region_key, cluster_key, location_key, location)
    SELECT (d.new_seen).region_key, (d.new_seen).cluster_key, (d.new_seen).location_key, min(d.location)
    FROM pg_temp.geo_done d
    WHERE d.location LIKE '%+%' AND (d.new_seen).location_key <> ''
      AND NOT tickets.geo_location_answered((d.new_seen).region_key, (d.new_seen).cluster_key,
                                            (d.new_seen).location_key)
    GROUP BY 1, 2, 3
    ON CONFLICT (region_key, cluster_key, location_key) DO UPDATE SET location = least(p.location, excluded.location);

    -- Addresses are recounted when one of their tickets changed (its urgency, spelling or
    -- whether it is open may have moved with the content) or went, or their answer changed.
    IF cardinality(p_bulk) > 0 THEN
        -- a bulk statement's dataset: more than 20,000 new placements, counted afresh below
        -- (the keys need not be listed first)
        PERFORM tickets.geo_rebuild_addresses(p_bulk);
        RETURN;
    END IF;
    PERFORM tickets.geo_recount_start();
    INSERT INTO pg_temp.geo_recount
    SELECT (d.old_seen).region_key, (d.old_seen).cluster_key, (d.old_seen).location_key
    FROM pg_temp.geo_done d WHERE d.old_seen IS NOT NULL AND d.old_seen IS DISTINCT FROM d.new_seen
    UNION ALL
    SELECT (d.new_seen).region_key, (d.new_seen).cluster_key, (d.new_seen).location_key
    FROM pg_temp.geo_done d WHERE d.old_seen IS DISTINCT FROM d.new_seen
    UNION ALL
    SELECT k.region_key, k.cluster_key, k.location_key FROM pg_temp.geo_keys k WHERE k.location_key IS NOT NULL;
    IF (SELECT count(*) FROM pg_temp.geo_recount) > 20000 THEN
        -- most addresses (a first placement): counting them all again is cheaper, key by key
        -- is not (and the expired answers are taken in on the way)
        PERFORM tickets.geo_rebuild_addresses('{}');
        RETURN;
    END IF;
    v_waiting := tickets.geo_recount_addresses();

    -- Whether the others still wait: those of a cluster whose centroid moved, and those whose
    -- miss or rejection expired since the last pass; address by address.
    SELECT array_agg(x.ctid) INTO v_flip
    FROM (SELECT c.region_key, c.cluster_key, NULL::text AS location_key
          FROM pg_temp.geo_keys c WHERE c.location_key IS NULL
          UNION
          SELECT gl.region_key, gl.cluster_key, gl.location_key
          FROM tickets.geo_locations gl, tickets.geo_state s
          WHERE gl.status <> 'ok' AND gl.expires_at > s.expired_until AND gl.expires_at <= now()) k
    CROSS JOIN LATERAL (
        SELECT a.ctid FROM tickets.geo_addresses a
        WHERE a.region_key = k.region_key AND a.cluster_key = k.cluster_key
          AND (k.location_key IS NULL OR a.location_key = k.location_key)
          AND a.waiting IS DISTINCT FROM tickets.geo_address_waiting(a.region_key, a.cluster_key, a.location_key)
        OFFSET 0) x;
    IF v_flip IS NOT NULL THEN
        WITH flipped AS (
            UPDATE tickets.geo_addresses a SET waiting = NOT a.waiting WHERE a.ctid = ANY (v_flip)
            RETURNING a.waiting
        )
        SELECT v_waiting + sum(CASE WHEN f.waiting THEN 1 ELSE -1 END) INTO v_waiting FROM flipped f;
    END IF;
    UPDATE tickets.geo_state SET waiting = waiting + v_waiting, expired_until = greatest(expired_until, now());
END
$$;


-- 09's, with the bulk statement for a first placement (see the top).
CREATE OR REPLACE FUNCTION tickets.geo_place(p_full boolean) RETURNS TABLE (dataset text, updated bigint)
LANGUAGE plpgsql
SET jit = off  -- compiling these plans costs more than running them
SET work_mem = '64MB'  -- a first placement's aggregates and sorts in memory
SET enable_mergejoin = off  -- hash joins keep the tickets' order: placements go into their primary key in order
AS $$
DECLARE
    v_full   boolean;
    v_bound  constant integer := 20000;
    v_queued bigint;
    v_which  text;
    v_ids    text[];
    v_empty  boolean;
    v_index  record;
    v_later  text[];  -- the definitions of indexes dropped for a bulk insert, built after it
    v_seqscan text := current_setting('enable_seqscan');
    v_truncated boolean;
    v_moved  bigint;
    v_bulk   text[] := '{}';  -- the datasets placed by the bulk statement (their counts written by it)
    ds       text;
    n        bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('fleettickets.geocode.resolve'));
    SELECT p_full OR s.rebuild INTO v_full FROM tickets.geo_state s FOR UPDATE;
    IF v_full OR (SELECT gazetteer_checksum FROM tickets.geo_state)
                 IS DISTINCT FROM (SELECT checksum FROM tickets.gazetteer_meta) THEN
        PERFORM tickets.match_clusters();
    END IF;

    CREATE TEMP TABLE IF NOT EXISTS geo_keys (
        region_key text, cluster_key text, location_key text
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS geo_done (
        dataset text, old_seen tickets.geo_seen, new_seen tickets.geo_seen,
        old_precision text, new_precision text, moved boolean, location text
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS geo_ids (dataset text, ticket_id text) ON COMMIT DELETE ROWS;
    PERFORM tickets.geo_bulk_table();
    DELETE FROM pg_temp.geo_bulk_addresses;
    DELETE FROM pg_temp.geo_keys;
    DELETE FROM pg_temp.geo_done;
    DELETE FROM pg_temp.geo_ids;
    WITH q AS (DELETE FROM tickets.geo_changed_keys RETURNING region_key, cluster_key, location_key)
    INSERT INTO pg_temp.geo_keys SELECT DISTINCT * FROM q WHERE NOT v_full;
    -- taken off the queue before the tickets are read: a write committed after this is
    -- either read below or left queued for the next pass. A long queue (a first placement)
    -- is emptied by TRUNCATE, not DELETE, when no writer is queueing right now: its dead rows
    -- would otherwise be read by every check for work until VACUUM (a cost of the table's
    -- size, not of what changed). Writers that queue wait for this pass meanwhile.
    v_truncated := false;
    IF (SELECT count(*) FROM tickets.geo_changed_tickets) > v_bound THEN
        BEGIN
            LOCK TABLE tickets.geo_changed_tickets IN ACCESS EXCLUSIVE MODE NOWAIT;
            INSERT INTO pg_temp.geo_ids SELECT c.dataset, c.ticket_id FROM tickets.geo_changed_tickets c WHERE NOT v_full;
            TRUNCATE tickets.geo_changed_tickets;
            v_truncated := true;
        EXCEPTION WHEN lock_not_available THEN
            NULL;  -- a writer is queueing: DELETE below
        END;
    END IF;
    IF NOT v_truncated THEN
        WITH q AS (DELETE FROM tickets.geo_changed_tickets c RETURNING c.dataset, c.ticket_id)
        INSERT INTO pg_temp.geo_ids SELECT * FROM q WHERE NOT v_full;
    END IF;

    FOREACH ds IN ARRAY ARRAY['inc', 'crq'] LOOP
        IF v_full THEN
            -- placements whose ticket is gone (none, unless a ticket table was written around
            -- its triggers): the counts below are rebuilt from the placements
            EXECUTE format('DELETE FROM tickets.%1$I p WHERE NOT EXISTS'
                           ' (SELECT 1 FROM tickets.%2$I t WHERE t.ticket_id = p.ticket_id)', ds || '_placement', ds);
            v_which := 'true';
            v_ids := NULL;
        ELSE
            SELECT count(*) INTO v_queued FROM pg_temp.geo_ids i WHERE i.dataset = ds;
            PERFORM set_config('enable_seqscan', 'off', true);  -- by key through the index, however small the table
            -- the tickets of keys whose answer changed, key by key through *_geo_key_idx
            EXECUTE format($sql$
                INSERT INTO pg_temp.geo_ids
                SELECT %2$L, p.ticket_id
                FROM pg_temp.geo_keys k
                CROSS JOIN LATERAL (
                    SELECT p.ticket_id FROM tickets.%1$I p
                    WHERE p.geo_seen IS NOT NULL AND (p.geo_seen).region_key = k.region_key
                      AND (p.geo_seen).cluster_key = k.cluster_key
                    OFFSET 0) p  -- a fence: key by key, whatever the statistics say
                WHERE k.location_key IS NULL
                UNION ALL
                SELECT %2$L, p.ticket_id
                FROM pg_temp.geo_keys k
                CROSS JOIN LATERAL (
                    SELECT p.ticket_id FROM tickets.%1$I p
                    WHERE p.geo_seen IS NOT NULL AND (p.geo_seen).region_key = k.region_key
                      AND (p.geo_seen).cluster_key = k.cluster_key AND (p.geo_seen).location_key = k.location_key
                    OFFSET 0) p
                WHERE k.location_key IS NOT NULL$sql$, ds || '_placement', ds);
            GET DIAGNOSTICS n = ROW_COUNT;
            PERFORM set_config('enable_seqscan', v_seqscan, true);
            IF v_queued + n > v_bound THEN
                ANALYZE pg_temp.geo_ids;
                v_ids := NULL;
                v_which := format('t.ticket_id IN (SELECT i.ticket_id FROM pg_temp.geo_ids i WHERE i.dataset = %L)', ds);
            ELSE
                -- a handful: by primary key, whatever the statistics of the temp table say
                v_ids := ARRAY(SELECT DISTINCT i.ticket_id FROM pg_temp.geo_ids i WHERE i.dataset = ds);
                v_which := 't.ticket_id = ANY ($1)';
                PERFORM set_config('enable_seqscan', 'off', true);  -- restored below
            END IF;
        END IF;

        -- An empty placement table filled by a scan (a first placement, a TRUNCATE's rebuild):
        -- its secondary indexes are built once after the rows (a sorted build) rather than row
        -- by row. Readers of the table wait for this pass meanwhile (the DROP's lock).
        v_later := '{}';
        v_empty := false;
        IF v_ids IS NULL THEN
            EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM tickets.%I)', ds || '_placement') INTO v_empty;
            IF v_empty THEN
                v_which := 'true';  -- every ticket is new to the table (and queued)
                FOR v_index IN
                    SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
                    FROM pg_catalog.pg_index i
                    WHERE i.indrelid = format('tickets.%I', ds || '_placement')::regclass AND NOT i.indisprimary
                LOOP
                    EXECUTE format('DROP INDEX %s', v_index.name);
                    v_later := v_later || v_index.definition;
                END LOOP;
            END IF;
        END IF;

        IF v_empty AND NOT v_full THEN
            -- The bulk statement: every ticket of the dataset is new to its placement table, so
            -- the counts' changes are what the pass computes, added here in aggregate (as
            -- geo_count_changes would add them row by row from geo_done), and the open tickets'
            -- addresses are kept for geo_rebuild_addresses: nothing is read back from the
            -- tables. (A full pass rebuilds its counts from the tables instead.)
            EXECUTE format($sql$
                WITH todo AS MATERIALIZED (
                    SELECT t.ticket_id, t.region, t.cluster, t.location,
                           coalesce(t.bucket = 'pending', false) AS open, coalesce(t.is_actionable, false) AS actionable,
                           k.rk, k.ck, l.lk, t.last_loaded_at,
                           coalesce(t.created_at_service, t.first_seen_at) AS clock
                    FROM tickets.%1$I t
                    -- the keys of a (region, cluster) computed once per pair (a Memoize node)
                    CROSS JOIN LATERAL (SELECT coalesce(tickets.norm_key(t.region), '') AS rk,
                                               coalesce(tickets.norm_key(t.cluster), '') AS ck OFFSET 0) k
                    -- and of a location text once per text (about half as many as tickets)
                    CROSS JOIN LATERAL (SELECT coalesce(tickets.norm_key(t.location), '') AS lk OFFSET 0) l
                ), new_clusters AS (
                    INSERT INTO tickets.geo_clusters (region_key, cluster_key, region, cluster, place_id, source, geom, guard_km)
                    SELECT k.region_key, k.cluster_key, k.region, k.cluster, m.place_id,
                           CASE WHEN m.place_id IS NOT NULL THEN 'gazetteer' END, g.geom, g.guard_km
                    FROM (SELECT d.rk AS region_key, d.ck AS cluster_key, min(d.region) AS region,
                                 min(d.cluster) AS cluster
                          FROM todo d
                          WHERE d.ck <> ''
                          GROUP BY 1, 2) k
                    CROSS JOIN LATERAL (SELECT tickets.gazetteer_match(k.region_key, k.cluster_key) AS place_id) m
                    LEFT JOIN tickets.gazetteer g ON g.place_id = m.place_id
                    WHERE NOT EXISTS (SELECT 1 FROM tickets.geo_clusters gc
                                      WHERE gc.region_key = k.region_key AND gc.cluster_key = k.cluster_key)
                    ON CONFLICT DO NOTHING
                    RETURNING region_key, cluster_key, geom
                ), clusters AS (
                    SELECT gc.region_key, gc.cluster_key, gc.geom FROM tickets.geo_clusters gc
                    UNION ALL
                    SELECT * FROM new_clusters
                ), placed AS MATERIALIZED (
                    SELECT d.*, CASE WHEN gl.geom IS NOT NULL THEN gl.geom ELSE gc.geom END AS geom,
                           CASE WHEN gl.geom IS NOT NULL THEN gl.precision
                                WHEN gc.geom IS NOT NULL THEN 'cluster' END AS precision
                    FROM todo d
                    LEFT JOIN clusters gc ON gc.region_key = d.rk AND gc.cluster_key = d.ck
                    LEFT JOIN tickets.geo_locations gl
                           ON gl.region_key = d.rk AND gl.cluster_key = d.ck AND gl.location_key = d.lk AND d.lk <> ''
                          AND gl.status = 'ok'
                ), inserted AS (
                    -- moved: a placement where there was none (as `moved` in the statement below)
                    INSERT INTO tickets.%2$I (ticket_id, open, actionable, geom, geom_precision, geocoded_at, geo_seen)
                    SELECT w.ticket_id, w.open, w.actionable, w.geom, w.precision,
                           CASE WHEN w.precision IS NOT NULL OR w.geom IS NOT NULL THEN now() END,
                           ROW(w.rk, w.ck, w.lk, w.open, w.last_loaded_at)::tickets.geo_seen
                    FROM placed w
                ), coverage AS (
                    INSERT INTO tickets.geo_coverage AS c (dataset, precision, pending, tickets)
                    SELECT %3$L, coalesce(w.precision, 'none'), w.open, count(*) FROM placed w GROUP BY 2, 3
                    ON CONFLICT (dataset, precision, pending) DO UPDATE SET tickets = c.tickets + excluded.tickets
                ), cluster_counts AS (
                    INSERT INTO tickets.geo_cluster_tickets AS c (region_key, cluster_key, tickets, open)
                    SELECT w.rk, w.ck, count(*), count(*) FILTER (WHERE w.open) FROM placed w GROUP BY 1, 2
                    ON CONFLICT (region_key, cluster_key) DO UPDATE
                        SET tickets = c.tickets + excluded.tickets, open = c.open + excluded.open
                ), plus_codes AS (
                    INSERT INTO tickets.geo_plus_codes AS p (region_key, cluster_key, location_key, location)
                    SELECT w.rk, w.ck, w.lk, min(w.location)
                    FROM placed w
                    WHERE w.location LIKE '%%+%%' AND w.lk <> ''
                      AND NOT tickets.geo_location_answered(w.rk, w.ck, w.lk)
                    GROUP BY 1, 2, 3
                    ON CONFLICT (region_key, cluster_key, location_key) DO UPDATE
                        SET location = least(p.location, excluded.location)
                ), addresses AS (
                    -- the rows geo_rebuild_addresses reads for this dataset (its filter)
                    INSERT INTO pg_temp.geo_bulk_addresses
                    SELECT w.rk, w.ck, w.lk, w.location, w.cluster, w.clock
                    FROM placed w
                    WHERE w.open AND %4$s AND w.location IS NOT NULL
                )
                SELECT count(*) FILTER (WHERE w.precision IS NOT NULL OR w.geom IS NOT NULL) FROM placed w$sql$,
                ds, ds || '_placement', ds, CASE ds WHEN 'inc' THEN 'w.actionable' ELSE 'true' END) INTO v_moved;
            v_bulk := v_bulk || ds;
        ELSE
            EXECUTE format($sql$
                WITH todo AS MATERIALIZED (
                    SELECT t.ticket_id, p.ticket_id IS NOT NULL AS present, p.geo_seen AS old_seen,
                           p.geom_precision AS old_precision, p.geom AS old_geom, p.open AS old_open,
                           p.actionable AS old_actionable, t.region, t.cluster, t.location,
                           coalesce(t.bucket = 'pending', false) AS open, coalesce(t.is_actionable, false) AS actionable,
                           k.rk, k.ck, coalesce(tickets.norm_key(t.location), '') AS lk, t.last_loaded_at
                    FROM tickets.%1$I t
                    -- a subquery per ticket, so that the keys of its (region, cluster), a few dozen
                    -- pairs for the whole table, are computed once per pair (a Memoize node)
                    CROSS JOIN LATERAL (SELECT coalesce(tickets.norm_key(t.region), '') AS rk,
                                               coalesce(tickets.norm_key(t.cluster), '') AS ck OFFSET 0) k
                    LEFT JOIN tickets.%2$I p ON p.ticket_id = t.ticket_id
                    WHERE %3$s
                ), new_clusters AS (
                    -- clusters seen for the first time, matched against the gazetteer on the way in
                    INSERT INTO tickets.geo_clusters (region_key, cluster_key, region, cluster, place_id, source, geom, guard_km)
                    SELECT k.region_key, k.cluster_key, k.region, k.cluster, m.place_id,
                           CASE WHEN m.place_id IS NOT NULL THEN 'gazetteer' END, g.geom, g.guard_km
                    FROM (SELECT d.rk AS region_key, d.ck AS cluster_key, min(d.region) AS region,
                                 min(d.cluster) AS cluster
                          FROM todo d
                          WHERE d.ck <> ''
                          GROUP BY 1, 2) k
                    CROSS JOIN LATERAL (SELECT tickets.gazetteer_match(k.region_key, k.cluster_key) AS place_id) m
                    LEFT JOIN tickets.gazetteer g ON g.place_id = m.place_id
                    WHERE NOT EXISTS (SELECT 1 FROM tickets.geo_clusters gc
                                      WHERE gc.region_key = k.region_key AND gc.cluster_key = k.cluster_key)
                    ON CONFLICT DO NOTHING
                    RETURNING region_key, cluster_key, geom
                ), clusters AS (
                    SELECT gc.region_key, gc.cluster_key, gc.geom FROM tickets.geo_clusters gc
                    UNION ALL
                    SELECT * FROM new_clusters
                ), placed AS (
                    SELECT d.*, ROW(d.rk, d.ck, d.lk, d.open, d.last_loaded_at)::tickets.geo_seen AS new_seen,
                           CASE WHEN gl.geom IS NOT NULL THEN gl.geom ELSE gc.geom END AS geom,
                           CASE WHEN gl.geom IS NOT NULL THEN gl.precision
                                WHEN gc.geom IS NOT NULL THEN 'cluster' END AS precision
                    FROM todo d
                    LEFT JOIN clusters gc ON gc.region_key = d.rk AND gc.cluster_key = d.ck
                    LEFT JOIN tickets.geo_locations gl
                           ON gl.region_key = d.rk AND gl.cluster_key = d.ck AND gl.location_key = d.lk AND d.lk <> ''
                          AND gl.status = 'ok'
                ), want AS MATERIALIZED (
                    SELECT w.*, w.old_precision IS DISTINCT FROM w.precision
                                OR NOT (w.old_geom IS NOT DISTINCT FROM w.geom) AS moved
                    FROM placed w
                    WHERE NOT w.present
                       OR w.old_seen IS DISTINCT FROM w.new_seen
                       OR w.old_precision IS DISTINCT FROM w.precision
                       OR NOT (w.old_geom IS NOT DISTINCT FROM w.geom)
                       OR (w.old_open, w.old_actionable) IS DISTINCT FROM (w.open, w.actionable)
                ), inserted AS (
                    -- only this pass writes new placements (the lock), so these rows are all new
                    INSERT INTO tickets.%2$I (ticket_id, open, actionable, geom, geom_precision, geocoded_at, geo_seen)
                    SELECT w.ticket_id, w.open, w.actionable, w.geom, w.precision,
                           CASE WHEN w.moved THEN now() END, w.new_seen
                    FROM want w WHERE NOT w.present
                ), updated AS (
                    UPDATE tickets.%2$I p
                       SET open = w.open, actionable = w.actionable, geom = w.geom, geom_precision = w.precision,
                           geo_seen = w.new_seen, geocoded_at = CASE WHEN w.moved THEN now() ELSE p.geocoded_at END
                      FROM want w
                     WHERE w.present AND p.ticket_id = w.ticket_id
                )
                INSERT INTO pg_temp.geo_done
                SELECT %4$L, w.old_seen, w.new_seen, w.old_precision, w.precision, w.moved, w.location
                FROM want w$sql$, ds, ds || '_placement', v_which, ds) USING v_ids;
            SELECT count(*) INTO v_moved FROM pg_temp.geo_done d WHERE d.dataset = ds AND d.moved;
        END IF;
        PERFORM set_config('enable_seqscan', v_seqscan, true);
        FOR n IN 1 .. cardinality(v_later) LOOP
            EXECUTE v_later[n];
        END LOOP;

        dataset := ds;
        updated := v_moved;
        RETURN NEXT;
    END LOOP;

    IF v_full THEN
        PERFORM tickets.geo_rebuild_counts();
        UPDATE tickets.geo_state SET rebuild = false;
    ELSE
        PERFORM tickets.geo_count_changes(v_bulk);
    END IF;
END
$$;

