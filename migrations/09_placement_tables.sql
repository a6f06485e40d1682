-- Placement in tables of its own: tickets.inc_placement and tickets.crq_placement, one narrow
-- row per ticket geocoding has taken in, instead of columns of the wide ticket rows.
--
-- Writing geom, precision and geo_seen into tickets.inc / tickets.crq rewrote the whole row
-- (raw jsonb, ~25 stored generated columns) and every one of its ~10 indexes: a first
-- placement of a 10x table cost more than one UPDATE of every ticket row (~10-17 s). A
-- placement row is ~100 bytes with five indexes; a first placement is an INSERT ... SELECT.
--
--   <ds>_placement       ticket_id, where it is (geom, geom_precision, geocoded_at), what
--                        geocoding took in (geo_seen, as in 08), and whether the ticket is
--                        open / open and actionable *now* (open, actionable): the GiST indexes
--                        the map and FleetNow read are partial on those flags. The ticket
--                        tables' triggers keep the flags equal to the ticket rows in the same
--                        transaction, so no reader sees a flag older than its ticket.
--   geo_changed_tickets  the tickets whose content changed since the last pass (08 found them
--                        through a partial index on geo_seen in the ticket rows), queued by
--                        the ticket tables' triggers in the writing transaction; the placing
--                        pass empties it. A pass does work in proportion to what changed.
--   all_placements       both placement tables as one relation with a `dataset` column.
--
-- The ticket tables lose geom, geom_precision, geocoded_at and geo_seen (and the indexes on
-- them): nothing can read a stale placement from a ticket row. tickets.all_tickets keeps its
-- other columns; the reporting functions join all_placements.
--
-- Concurrency: one placing pass at a time holds the advisory lock 'fleettickets.geocode.resolve'
-- (08). A ticket write that changes a placement row (the flags, a deleted ticket's placement)
-- takes the same lock shared first, so it waits for a running pass to commit and then sees
-- its rows, and a pass that starts meanwhile waits for that write to commit and reads the
-- tickets as written. Content changes only queue (no lock): a pass that misses one places
-- it the next time (a pass that empties a long queue by TRUNCATE makes queueing writers wait
-- for it, see geo_place).
--
-- A first placement (an empty placement table, filled by a scan) builds the placement's
-- secondary indexes after its rows, not row by row: 10x, ~6 s for the whole geocoding step
-- (offline) where writing the ticket rows took ~13-17 s.

CREATE TABLE tickets.geo_changed_tickets (
    dataset   text NOT NULL,
    ticket_id text NOT NULL
);

DO $$
DECLARE
    ds text;
BEGIN
    FOREACH ds IN ARRAY ARRAY['inc', 'crq'] LOOP
        EXECUTE format($ddl$
            CREATE TABLE tickets.%1$I (
                ticket_id      text PRIMARY KEY,
                open           boolean NOT NULL,  -- bucket = 'pending', as the ticket row is now
                actionable     boolean NOT NULL,  -- is_actionable, as the ticket row is now
                geom           geometry(Point, 4326),
                geom_precision text CHECK (geom_precision IN ('plus_code', 'location', 'cluster')),
                geocoded_at    timestamptz,       -- when the placement last changed
                geo_seen       tickets.geo_seen   -- null: not taken in by a pass yet (migrated)
            )$ddl$, ds || '_placement');

        -- What geocoding had written into the ticket rows; the rows it had not taken in as they
        -- are now are queued (the next pass places them, as 08's partial index would have).
        EXECUTE format($sql$
            INSERT INTO tickets.%1$I (ticket_id, open, actionable, geom, geom_precision, geocoded_at, geo_seen)
            SELECT ticket_id, coalesce(bucket = 'pending', false), coalesce(is_actionable, false),
                   geom, geom_precision, geocoded_at, geo_seen
            FROM tickets.%2$I
            WHERE geo_seen IS NOT NULL OR geom IS NOT NULL OR geom_precision IS NOT NULL$sql$, ds || '_placement', ds);
        EXECUTE format($sql$
            INSERT INTO tickets.geo_changed_tickets (dataset, ticket_id)
            SELECT %1$L, ticket_id FROM tickets.%1$I
            WHERE (geo_seen).loaded_at IS DISTINCT FROM last_loaded_at$sql$, ds);
    END LOOP;
END
$$;

-- The ticket rows' placement columns go (their indexes with them; all_tickets is redefined below).
DROP VIEW tickets.all_tickets;
DO $$
DECLARE
    ds text;
BEGIN
    FOREACH ds IN ARRAY ARRAY['inc', 'crq'] LOOP
        EXECUTE format('ALTER TABLE tickets.%1$I DROP COLUMN geom, DROP COLUMN geom_precision,'
                       ' DROP COLUMN geocoded_at, DROP COLUMN geo_seen', ds);
        -- The same index names as on the ticket tables before (02, 04), now on the placement:
        -- every placed ticket (closed tickets in a bounding box), open tickets in the map's
        -- viewport, FleetNow's KNN on the sphere over open actionable tickets.
        EXECUTE format('CREATE INDEX %1$I ON tickets.%2$I USING gist (geom)', ds || '_geom_idx', ds || '_placement');
        EXECUTE format('CREATE INDEX %1$I ON tickets.%2$I USING gist (geom) WHERE open',
                       ds || '_open_geom_idx', ds || '_placement');
        EXECUTE format('CREATE INDEX %1$I ON tickets.%2$I USING gist ((geom::geography)) WHERE open AND actionable',
                       ds || '_open_geog_idx', ds || '_placement');
        -- Tickets of a cache key (an answer arrived, a centroid moved), as 08's *_geo_key_idx.
        EXECUTE format('CREATE INDEX %1$I ON tickets.%2$I'
                       ' (((geo_seen).region_key), ((geo_seen).cluster_key), ((geo_seen).location_key))'
                       ' WHERE geo_seen IS NOT NULL', ds || '_geo_key_idx', ds || '_placement');
    END LOOP;
END
$$;

-- As in 04, without the placement (security_invoker: readers need SELECT on the tables).
CREATE VIEW tickets.all_tickets WITH (security_invoker = true) AS
SELECT 'inc'::text AS dataset, ticket_id, bucket, raw_status, is_actionable, region, cluster,
       location, summary, category, priority, assigned_team, owner, created_at_service,
       closed_at, sla_status, mttr, created_at, updated_at, first_seen_at, last_seen_at,
       source_key, file_ts, first_loaded_at, last_loaded_at
FROM tickets.inc
UNION ALL
SELECT 'crq'::text AS dataset, ticket_id, bucket, raw_status, is_actionable, region, cluster,
       location, summary, category, priority, assigned_team, owner, created_at_service,
       closed_at, sla_status, mttr, created_at, updated_at, first_seen_at, last_seen_at,
       source_key, file_ts, first_loaded_at, last_loaded_at
FROM tickets.crq;

-- Both placement tables as one relation; plain columns, so the planner flattens it into an
-- append of the two tables (partial GiST indexes and KNN ORDER BY ... LIMIT pushed down).
CREATE VIEW tickets.all_placements WITH (security_invoker = true) AS
SELECT 'inc'::text AS dataset, ticket_id, open, actionable, geom, geom_precision, geocoded_at, geo_seen
FROM tickets.inc_placement
UNION ALL
SELECT 'crq'::text AS dataset, ticket_id, open, actionable, geom, geom_precision, geocoded_at, geo_seen
FROM tickets.crq_placement;


-- Ticket writes -> geo_changed_tickets and the placement's flags.

-- New tickets are queued in one INSERT (a transition table: a baseline of 200k rows is one
-- statement, not 200k trigger calls).
CREATE OR REPLACE FUNCTION tickets.geo_tickets_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tickets.geo_changed_tickets (dataset, ticket_id)
    SELECT TG_ARGV[0], n.ticket_id FROM new_rows n;
    RETURN NULL;
END
$$;

-- An updated ticket (fired only when its content, last_loaded_at or flags changed, see the
-- WHEN clause below: a newer file carrying it unchanged is not work): queued when its content
-- moved; its placement's flags follow the row (under the shared lock, see the top).
CREATE OR REPLACE FUNCTION tickets.geo_ticket_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.raw IS DISTINCT FROM OLD.raw OR NEW.last_loaded_at IS DISTINCT FROM OLD.last_loaded_at THEN
        INSERT INTO tickets.geo_changed_tickets (dataset, ticket_id) VALUES (TG_ARGV[0], NEW.ticket_id);
    END IF;
    IF coalesce(NEW.bucket = 'pending', false) IS DISTINCT FROM coalesce(OLD.bucket = 'pending', false)
       OR coalesce(NEW.is_actionable, false) IS DISTINCT FROM coalesce(OLD.is_actionable, false) THEN
        PERFORM pg_advisory_xact_lock_shared(hashtext('fleettickets.geocode.resolve'));
        EXECUTE format('UPDATE tickets.%I SET open = $1, actionable = $2 WHERE ticket_id = $3',
                       TG_ARGV[0] || '_placement')
            USING coalesce(NEW.bucket = 'pending', false), coalesce(NEW.is_actionable, false), NEW.ticket_id;
    END IF;
    RETURN NULL;
END
$$;

-- Deleted tickets (a quarantined file's rows) take their placement and their counts with them.
CREATE OR REPLACE FUNCTION tickets.geo_tickets_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtext('fleettickets.geocode.resolve'));
    EXECUTE format($sql$
        WITH gone AS (
            DELETE FROM tickets.%1$I p USING old_rows o WHERE p.ticket_id = o.ticket_id
            RETURNING p.geo_seen AS s, p.geom_precision
        ), seen AS MATERIALIZED (
            SELECT * FROM gone WHERE s IS NOT NULL
        ), coverage AS (
            INSERT INTO tickets.geo_coverage AS c (dataset, precision, pending, tickets)
            SELECT %2$L, coalesce(g.geom_precision, 'none'), (g.s).pending, -count(*)
            FROM seen g GROUP BY 2, 3
            ON CONFLICT (dataset, precision, pending) DO UPDATE SET tickets = c.tickets + excluded.tickets
        ), clusters AS (
            INSERT INTO tickets.geo_cluster_tickets AS c (region_key, cluster_key, tickets, open)
            SELECT (g.s).region_key, (g.s).cluster_key, -count(*), -count(*) FILTER (WHERE (g.s).pending)
            FROM seen g GROUP BY 1, 2
            ON CONFLICT (region_key, cluster_key) DO UPDATE
                SET tickets = c.tickets + excluded.tickets, open = c.open + excluded.open
        )
        -- their addresses are recounted by the next pass (which holds the lock the counts need)
        INSERT INTO tickets.geo_changed_keys
        SELECT DISTINCT (g.s).region_key, (g.s).cluster_key, (g.s).location_key FROM seen g$sql$,
        TG_ARGV[0] || '_placement', TG_ARGV[0]);
    RETURN NULL;
END
$$;

-- A TRUNCATE of a ticket table empties its placement; the next pass starts over (08's flag).
CREATE OR REPLACE FUNCTION tickets.geo_tickets_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('TRUNCATE tickets.%I', TG_ARGV[0] || '_placement');
    UPDATE tickets.geo_state SET rebuild = true;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    ds text;
BEGIN
    FOREACH ds IN ARRAY ARRAY['inc', 'crq'] LOOP
        EXECUTE format('CREATE OR REPLACE TRIGGER %1$I AFTER INSERT ON tickets.%2$I REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION tickets.geo_tickets_inserted(%2$L)',
                       ds || '_geo_inserted', ds);
        EXECUTE format('CREATE OR REPLACE TRIGGER %1$I AFTER UPDATE ON tickets.%2$I FOR EACH ROW'
                       ' WHEN (NEW.raw IS DISTINCT FROM OLD.raw OR NEW.last_loaded_at IS DISTINCT FROM OLD.last_loaded_at'
                       '       OR NEW.bucket IS DISTINCT FROM OLD.bucket OR NEW.is_actionable IS DISTINCT FROM OLD.is_actionable)'
                       ' EXECUTE FUNCTION tickets.geo_ticket_updated(%2$L)',
                       ds || '_geo_updated', ds);
        -- 08's triggers, on the functions above
        EXECUTE format('CREATE OR REPLACE TRIGGER %1$I AFTER DELETE ON tickets.%2$I REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION tickets.geo_tickets_deleted(%2$L)',
                       ds || '_geo_deleted', ds);
        EXECUTE format('CREATE OR REPLACE TRIGGER %1$I AFTER TRUNCATE ON tickets.%2$I'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION tickets.geo_tickets_truncated(%2$L)',
                       ds || '_geo_truncated', ds);
    END LOOP;
END
$$;


-- The placing pass (08's, on the placement tables). p_full: every ticket, and the counts
-- rebuilt from the tables; otherwise the queued tickets and those of the keys in
-- geo_changed_keys. Writes a placement only when it or geo_seen changes (geocoded_at: when
-- the placement last changed). One pass at a time (the advisory lock, held to the end).
-- Past v_bound queued tickets (a first placement, a reseed) one sequential scan of the
-- ticket table is cheaper than looking them up one by one.
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
        PERFORM set_config('enable_seqscan', v_seqscan, true);
        FOR n IN 1 .. cardinality(v_later) LOOP
            EXECUTE v_later[n];
        END LOOP;

        SELECT count(*) INTO n FROM pg_temp.geo_done d WHERE d.dataset = ds AND d.moved;
        dataset := ds;
        updated := n;
        RETURN NEXT;
    END LOOP;

    IF v_full THEN
        PERFORM tickets.geo_rebuild_counts();
        UPDATE tickets.geo_state SET rebuild = false;
    ELSE
        PERFORM tickets.geo_count_changes();
    END IF;
END
$$;

-- Recount geo_addresses for the keys in pg_temp.geo_recount (08's, with the keys geocoding
-- took in read from the placements). Returns the change in waiting addresses.
CREATE OR REPLACE FUNCTION tickets.geo_recount_addresses() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_seqscan text := current_setting('enable_seqscan');
    gone  bigint;
    added bigint;
BEGIN
    ANALYZE pg_temp.geo_recount;  -- a few keys, or every address of a first placement
    WITH d AS (
        DELETE FROM tickets.geo_addresses a USING (SELECT DISTINCT * FROM pg_temp.geo_recount) k
        WHERE a.region_key = k.region_key AND a.cluster_key = k.cluster_key AND a.location_key = k.location_key
        RETURNING a.waiting
    )
    SELECT count(*) FILTER (WHERE waiting) INTO gone FROM d;

    -- the open tickets an address counts (as in geo_rebuild_addresses), by the keys geocoding
    -- took in, key by key through each placement's *_geo_key_idx (then the ticket by its key),
    -- however small the tables are
    PERFORM set_config('enable_seqscan', 'off', true);
    WITH k AS MATERIALIZED (
        SELECT DISTINCT * FROM pg_temp.geo_recount r WHERE tickets.worth_asking(r.location_key, r.cluster_key)
    ), g AS (
        SELECT o.region_key, o.cluster_key, o.location_key, min(o.location) AS location, min(o.cluster) AS cluster,
               min(o.clock) AS clock, count(*) AS tickets
        FROM (SELECT k.*, t.location, t.cluster, t.clock
              FROM k CROSS JOIN LATERAL (
                  SELECT t.location, t.cluster, coalesce(t.created_at_service, t.first_seen_at) AS clock
                  FROM tickets.inc_placement p JOIN tickets.inc t ON t.ticket_id = p.ticket_id
                  WHERE p.geo_seen IS NOT NULL AND (p.geo_seen).region_key = k.region_key
                    AND (p.geo_seen).cluster_key = k.cluster_key AND (p.geo_seen).location_key = k.location_key
                    AND t.bucket = 'pending' AND t.is_actionable AND t.location IS NOT NULL
                  OFFSET 0) t  -- a fence: key by key, whatever the statistics say
              UNION ALL
              SELECT k.*, t.location, t.cluster, t.clock
              FROM k CROSS JOIN LATERAL (
                  SELECT t.location, t.cluster, coalesce(t.created_at_service, t.first_seen_at) AS clock
                  FROM tickets.crq_placement p JOIN tickets.crq t ON t.ticket_id = p.ticket_id
                  WHERE p.geo_seen IS NOT NULL AND (p.geo_seen).region_key = k.region_key
                    AND (p.geo_seen).cluster_key = k.cluster_key AND (p.geo_seen).location_key = k.location_key
                    AND t.bucket = 'pending' AND t.location IS NOT NULL
                  OFFSET 0) t) o
        GROUP BY 1, 2, 3
    ), i AS (
        INSERT INTO tickets.geo_addresses
            (region_key, cluster_key, location_key, location, cluster, clock, tickets, waiting)
        SELECT g.*, gc.geom IS NOT NULL AND gl.location_key IS NULL  -- as tickets.geo_address_waiting
        FROM g
        LEFT JOIN tickets.geo_clusters gc ON gc.region_key = g.region_key AND gc.cluster_key = g.cluster_key
        LEFT JOIN tickets.geo_locations gl
               ON gl.region_key = g.region_key AND gl.cluster_key = g.cluster_key AND gl.location_key = g.location_key
              AND (gl.status = 'ok' OR NOT coalesce(gl.expires_at <= now(), false))
        RETURNING waiting
    )
    SELECT count(*) FILTER (WHERE waiting) INTO added FROM i;
    PERFORM set_config('enable_seqscan', v_seqscan, true);
    RETURN added - gone;
END
$$;

-- Every address counted again from the tables (08's, keys from the placements).
CREATE OR REPLACE FUNCTION tickets.geo_rebuild_addresses() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tickets.geo_addresses;
    INSERT INTO tickets.geo_addresses (region_key, cluster_key, location_key, location, cluster, clock, tickets, waiting)
    SELECT g.*, gc.geom IS NOT NULL AND gl.location_key IS NULL  -- as tickets.geo_address_waiting
    FROM (SELECT (o.s).region_key, (o.s).cluster_key, (o.s).location_key, min(o.location), min(o.cluster),
                 min(o.clock), count(*)
          FROM (SELECT p.geo_seen AS s, t.location, t.cluster, coalesce(t.created_at_service, t.first_seen_at) AS clock
                FROM tickets.inc t JOIN tickets.inc_placement p ON p.ticket_id = t.ticket_id
                WHERE p.geo_seen IS NOT NULL AND t.bucket = 'pending' AND t.is_actionable AND t.location IS NOT NULL
                UNION ALL
                SELECT p.geo_seen, t.location, t.cluster, coalesce(t.created_at_service, t.first_seen_at)
                FROM tickets.crq t JOIN tickets.crq_placement p ON p.ticket_id = t.ticket_id
                WHERE p.geo_seen IS NOT NULL AND t.bucket = 'pending' AND t.location IS NOT NULL
                OFFSET 0) o  -- a fence: worth_asking on the open tickets' keys only, not on every placement
          WHERE tickets.worth_asking((o.s).location_key, (o.s).cluster_key)
          GROUP BY 1, 2, 3) g (region_key, cluster_key, location_key, location, cluster, clock, tickets)
    LEFT JOIN tickets.geo_clusters gc ON gc.region_key = g.region_key AND gc.cluster_key = g.cluster_key
    LEFT JOIN tickets.geo_locations gl
           ON gl.region_key = g.region_key AND gl.cluster_key = g.cluster_key AND gl.location_key = g.location_key
          AND (gl.status = 'ok' OR NOT coalesce(gl.expires_at <= now(), false));
    UPDATE tickets.geo_state
       SET waiting = (SELECT count(*) FROM tickets.geo_addresses WHERE waiting), expired_until = now();
END
$$;

-- The counts from the placements (a full pass; 08's, which read the ticket rows).
CREATE OR REPLACE FUNCTION tickets.geo_rebuild_counts() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tickets.geo_coverage;
    DELETE FROM tickets.geo_cluster_tickets;
    DELETE FROM tickets.geo_plus_codes;

    INSERT INTO tickets.geo_coverage (dataset, precision, pending, tickets)
    SELECT p.dataset, coalesce(p.geom_precision, 'none'), (p.geo_seen).pending, count(*)
    FROM tickets.all_placements p WHERE p.geo_seen IS NOT NULL GROUP BY 1, 2, 3;

    INSERT INTO tickets.geo_cluster_tickets (region_key, cluster_key, tickets, open)
    SELECT (p.geo_seen).region_key, (p.geo_seen).cluster_key, count(*), count(*) FILTER (WHERE (p.geo_seen).pending)
    FROM tickets.all_placements p WHERE p.geo_seen IS NOT NULL
    GROUP BY 1, 2;

    PERFORM tickets.geo_rebuild_addresses();

    INSERT INTO tickets.geo_plus_codes (region_key, cluster_key, location_key, location)
    SELECT (k.s).region_key, (k.s).cluster_key, (k.s).location_key, min(k.location)
    FROM (SELECT p.geo_seen AS s, t.location
          FROM tickets.inc t JOIN tickets.inc_placement p ON p.ticket_id = t.ticket_id
          WHERE t.location LIKE '%+%' AND p.geo_seen IS NOT NULL
          UNION ALL
          SELECT p.geo_seen, t.location
          FROM tickets.crq t JOIN tickets.crq_placement p ON p.ticket_id = t.ticket_id
          WHERE t.location LIKE '%+%' AND p.geo_seen IS NOT NULL) k
    WHERE (k.s).location_key <> ''
      AND NOT tickets.geo_location_answered((k.s).region_key, (k.s).cluster_key, (k.s).location_key)
    GROUP BY 1, 2, 3;
END
$$;


-- The reporting functions that show positions (04's), reading the placements.
CREATE OR REPLACE FUNCTION reporting.fn_tickets_for_map(
    p_datasets      text[]             DEFAULT NULL,
    p_status        text               DEFAULT 'open',
    p_sla_states    text[]             DEFAULT NULL,
    p_region        text               DEFAULT NULL,
    p_cluster       text               DEFAULT NULL,
    p_bbox          double precision[] DEFAULT NULL,
    p_updated_since timestamptz        DEFAULT NULL,
    p_limit         integer            DEFAULT NULL,
    p_as_of         timestamptz        DEFAULT now()
) RETURNS TABLE (
    dataset            text,
    ticket_id          text,
    bucket             text,
    raw_status         text,
    is_actionable      boolean,
    region             text,
    cluster            text,
    location           text,
    latitude           double precision,
    longitude          double precision,
    geom               geometry,
    geom_precision     text,
    sla_state          text,
    sla_clock          text,
    clock_started_at   timestamptz,
    breach_at          timestamptz,
    age_hours          numeric,
    hours_to_breach    numeric,
    sla_status         text,
    mttr               numeric,
    assigned_team      text,
    owner              text,
    summary            text,
    category           text,
    priority           text,
    created_at_service timestamptz,
    first_seen_at      timestamptz,
    closed_at          timestamptz,
    updated_at         timestamptz,
    last_loaded_at     timestamptz
)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_custom_plan
SET jit = off
AS $fn$
#variable_conflict use_column
DECLARE
    v_as_of  timestamptz := coalesce(p_as_of, now());
    v_region text := lower(btrim(p_region));
    v_box    geometry;
BEGIN
    IF p_status IS NULL OR p_status NOT IN ('open', 'closed', 'all') THEN
        RAISE EXCEPTION 'p_status must be open, closed or all, not %', coalesce(p_status, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT coalesce(p_datasets <@ ARRAY['inc', 'crq'], true) OR array_position(p_datasets, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'p_datasets must hold inc and/or crq, not %', p_datasets
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT coalesce(p_sla_states <@ ARRAY['on_track', 'at_risk', 'breached', 'unknown', 'closed'], true)
       OR array_position(p_sla_states, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'p_sla_states must hold on_track, at_risk, breached, unknown or closed, not %',
            p_sla_states USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_bbox IS NOT NULL THEN
        IF cardinality(p_bbox) <> 4 OR array_position(p_bbox, NULL) IS NOT NULL
           OR p_bbox[1] > p_bbox[3] OR p_bbox[2] > p_bbox[4] THEN
            RAISE EXCEPTION 'p_bbox must be {west, south, east, north} in degrees, not %', p_bbox
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        v_box := ST_MakeEnvelope(p_bbox[1], p_bbox[2], p_bbox[3], p_bbox[4], 4326);
    END IF;
    IF p_limit < 0 THEN
        RAISE EXCEPTION 'p_limit must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- p.open (equal to bucket = 'pending', kept by the ticket tables' triggers) lets a viewport
    -- of open tickets read *_open_geom_idx
    RETURN QUERY
    WITH f AS NOT MATERIALIZED (
        SELECT t.dataset, t.ticket_id, t.bucket, t.raw_status, t.is_actionable, t.region,
               t.cluster, t.location, p.geom, p.geom_precision, p.open AS placed_open, t.assigned_team,
               t.owner, t.summary, t.category, t.priority, t.created_at_service, t.first_seen_at,
               t.closed_at, t.updated_at, t.last_loaded_at,
               s.sla_state, s.sla_clock, s.clock_started_at, s.breach_at, s.age_hours,
               s.hours_to_breach, s.sla_status, s.mttr
        FROM tickets.all_tickets t
        LEFT JOIN tickets.all_placements p ON p.dataset = t.dataset AND p.ticket_id = t.ticket_id
        CROSS JOIN LATERAL reporting.fn_sla_state(t.bucket, t.created_at_service, t.first_seen_at,
                                                  t.sla_status, t.mttr, v_as_of) s
        WHERE (p_datasets IS NULL OR t.dataset = ANY (p_datasets))
          AND (v_region IS NULL OR t.region = v_region)
          AND (p_cluster IS NULL OR t.cluster = p_cluster)
          AND (v_box IS NULL OR p.geom && v_box)
          AND (p_updated_since IS NULL OR t.last_loaded_at >= p_updated_since
               OR p.geocoded_at >= p_updated_since)
          AND (p_sla_states IS NULL OR s.sla_state = ANY (p_sla_states))
    ),
    open_rows AS (
        SELECT f.* FROM f
        WHERE p_status IN ('open', 'all') AND f.bucket = 'pending' AND (v_box IS NULL OR f.placed_open)
        ORDER BY coalesce(f.created_at_service, f.first_seen_at), f.priority, f.dataset, f.ticket_id
        LIMIT p_limit
    ),
    closed_rows AS (
        SELECT f.* FROM f
        WHERE p_status IN ('closed', 'all') AND f.bucket = 'closed'
        ORDER BY f.closed_at DESC NULLS LAST, f.dataset, f.ticket_id
        LIMIT p_limit
    ),
    other_rows AS (  -- a bucket outside the contract: shown under 'all' only
        SELECT f.* FROM f
        WHERE p_status = 'all' AND f.bucket IS DISTINCT FROM 'pending' AND f.bucket IS DISTINCT FROM 'closed'
        ORDER BY f.closed_at DESC NULLS LAST, f.dataset, f.ticket_id
        LIMIT p_limit
    )
    SELECT r.dataset, r.ticket_id, r.bucket, r.raw_status, r.is_actionable, r.region, r.cluster,
           r.location, ST_Y(r.geom), ST_X(r.geom), r.geom, r.geom_precision,
           r.sla_state, r.sla_clock, r.clock_started_at, r.breach_at, r.age_hours,
           r.hours_to_breach, r.sla_status, r.mttr, r.assigned_team, r.owner, r.summary,
           r.category, r.priority, r.created_at_service, r.first_seen_at, r.closed_at,
           r.updated_at, r.last_loaded_at
    FROM (
        SELECT * FROM open_rows
        UNION ALL SELECT * FROM closed_rows
        UNION ALL SELECT * FROM other_rows
    ) r
    ORDER BY CASE r.bucket WHEN 'pending' THEN 0 WHEN 'closed' THEN 2 ELSE 1 END,
             CASE WHEN r.bucket = 'pending' THEN coalesce(r.created_at_service, r.first_seen_at) END,
             CASE WHEN r.bucket IS DISTINCT FROM 'pending' THEN r.closed_at END DESC NULLS LAST,
             CASE WHEN r.bucket = 'pending' THEN r.priority END,
             r.dataset, r.ticket_id
    LIMIT p_limit;
END
$fn$;

-- The n nearest open actionable tickets to a point (04's; the KNN runs on the placements'
-- *_open_geog_idx, over p.open AND p.actionable, equal to the ticket rows' own by the triggers).
CREATE OR REPLACE FUNCTION reporting.fn_nearest_open_tickets(
    p_lat        double precision,
    p_lon        double precision,
    p_n          integer          DEFAULT 10,
    p_max_km     double precision DEFAULT NULL,
    p_datasets   text[]           DEFAULT NULL,
    p_sla_states text[]           DEFAULT NULL,
    p_precisions text[]           DEFAULT NULL,
    p_as_of      timestamptz      DEFAULT now()
) RETURNS TABLE (
    rank               integer,
    dataset            text,
    ticket_id          text,
    distance_m         double precision,
    latitude           double precision,
    longitude          double precision,
    geom               geometry,
    geom_precision     text,
    sla_state          text,
    sla_clock          text,
    clock_started_at   timestamptz,
    breach_at          timestamptz,
    age_hours          numeric,
    hours_to_breach    numeric,
    raw_status         text,
    priority           text,
    region             text,
    cluster            text,
    location           text,
    summary            text,
    category           text,
    assigned_team      text,
    owner              text,
    created_at_service timestamptz,
    first_seen_at      timestamptz
)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_custom_plan
SET jit = off
AS $fn$
#variable_conflict use_column
DECLARE
    v_as_of timestamptz := coalesce(p_as_of, now());
    v_max_m double precision := p_max_km * 1000;
    v_pt    geography;
    v_reach double precision;
BEGIN
    IF p_lat IS NULL OR p_lon IS NULL OR p_lat NOT BETWEEN -90 AND 90 OR p_lon NOT BETWEEN -180 AND 180 THEN
        RAISE EXCEPTION 'p_lat must be in [-90, 90] and p_lon in [-180, 180], not (%, %)', p_lat, p_lon
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_n IS NULL OR p_n NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'p_n must be between 1 and 1000, not %', p_n USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_max_km <= 0 THEN
        RAISE EXCEPTION 'p_max_km must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT coalesce(p_datasets <@ ARRAY['inc', 'crq'], true) OR array_position(p_datasets, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'p_datasets must hold inc and/or crq, not %', p_datasets
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT coalesce(p_sla_states <@ ARRAY['on_track', 'at_risk', 'breached', 'unknown'], true)
       OR array_position(p_sla_states, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'p_sla_states must hold on_track, at_risk, breached or unknown, not %', p_sla_states
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT coalesce(p_precisions <@ ARRAY['plus_code', 'location', 'cluster'], true)
       OR array_position(p_precisions, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'p_precisions must hold plus_code, location or cluster, not %', p_precisions
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_pt := ST_SetSRID(ST_MakePoint(p_lon, p_lat), 4326)::geography;

    -- 1. How far out (on the sphere) are the n nearest? KNN on *_open_geog_idx.
    SELECT max(k.d) INTO v_reach
    FROM (
        SELECT p.geom::geography <-> v_pt AS d
        FROM tickets.all_placements p
        JOIN tickets.all_tickets t ON t.dataset = p.dataset AND t.ticket_id = p.ticket_id
        CROSS JOIN LATERAL reporting.fn_sla_state(t.bucket, t.created_at_service, t.first_seen_at,
                                                  NULL, NULL, v_as_of) s
        WHERE p.open AND p.actionable AND p.geom IS NOT NULL AND t.bucket = 'pending' AND t.is_actionable
          AND (p_datasets IS NULL OR p.dataset = ANY (p_datasets))
          AND (p_precisions IS NULL OR p.geom_precision = ANY (p_precisions))
          AND (p_sla_states IS NULL OR s.sla_state = ANY (p_sla_states))
          AND (v_max_m IS NULL OR ST_DWithin(p.geom::geography, v_pt, v_max_m / 0.99, false))
        ORDER BY p.geom::geography <-> v_pt
        LIMIT p_n
    ) k;
    IF v_reach IS NULL THEN
        RETURN;
    END IF;

    -- 2. Every candidate within reach * 1.01 / 0.99 on the sphere, ranked on the spheroid.
    RETURN QUERY
    SELECT (row_number() OVER (ORDER BY c.distance_m, c.dataset, c.ticket_id))::integer,
           c.dataset, c.ticket_id, c.distance_m, ST_Y(c.geom), ST_X(c.geom), c.geom,
           c.geom_precision, c.sla_state, c.sla_clock, c.clock_started_at, c.breach_at,
           c.age_hours, c.hours_to_breach, c.raw_status, c.priority, c.region, c.cluster,
           c.location, c.summary, c.category, c.assigned_team, c.owner, c.created_at_service,
           c.first_seen_at
    FROM (
        SELECT t.dataset, t.ticket_id, p.geom, p.geom_precision, t.raw_status, t.priority, t.region,
               t.cluster, t.location, t.summary, t.category, t.assigned_team, t.owner,
               t.created_at_service, t.first_seen_at,
               ST_Distance(p.geom::geography, v_pt) AS distance_m,
               s.sla_state, s.sla_clock, s.clock_started_at, s.breach_at, s.age_hours,
               s.hours_to_breach
        FROM tickets.all_placements p
        JOIN tickets.all_tickets t ON t.dataset = p.dataset AND t.ticket_id = p.ticket_id
        CROSS JOIN LATERAL reporting.fn_sla_state(t.bucket, t.created_at_service, t.first_seen_at,
                                                  NULL, NULL, v_as_of) s
        WHERE p.open AND p.actionable AND p.geom IS NOT NULL AND t.bucket = 'pending' AND t.is_actionable
          AND (p_datasets IS NULL OR p.dataset = ANY (p_datasets))
          AND (p_precisions IS NULL OR p.geom_precision = ANY (p_precisions))
          AND (p_sla_states IS NULL OR s.sla_state = ANY (p_sla_states))
          AND ST_DWithin(p.geom::geography, v_pt, v_reach * 1.01 / 0.99, false)
    ) c
    WHERE v_max_m IS NULL OR c.distance_m <= v_max_m
    ORDER BY c.distance_m, c.dataset, c.ticket_id
    LIMIT p_n;
END
$fn$;

ALTER FUNCTION reporting.fn_tickets_for_map(text[], text, text[], text, text, double precision[], timestamptz,
                                            integer, timestamptz) OWNER TO fleettickets_report_owner;
ALTER FUNCTION reporting.fn_nearest_open_tickets(double precision, double precision, integer, double precision,
                                                 text[], text[], text[], timestamptz) OWNER TO fleettickets_report_owner;

-- Privileges (05's rules): the function owner reads the placements and the views it reads;
-- the loader reads and writes the new tables; dashboard_api reads no table.
GRANT SELECT ON tickets.inc_placement, tickets.crq_placement, tickets.all_placements, tickets.all_tickets
    TO fleettickets_report_owner;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE
    ON tickets.inc_placement, tickets.crq_placement, tickets.geo_changed_tickets TO fleettickets_loader;
GRANT SELECT ON tickets.all_tickets, tickets.all_placements TO fleettickets_loader;
