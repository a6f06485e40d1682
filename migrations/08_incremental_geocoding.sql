-- Incremental geocoding: a run does work in proportion to what changed, not to the tables.
--
-- What makes a ticket's placement (or the counts kept about it) change:
--   1. the ticket itself: its content changed (the loader moves last_loaded_at exactly when
--      the content changes; rewriting file_ts/source_key does not). Each ticket row carries
--      `geo_seen`, what geocoding took in from it, last_loaded_at included; a partial index
--      holds exactly the rows where that differs from the row now.
--   2. a cache answer that matters to it: triggers on geo_locations and geo_clusters queue
--      the keys whose answer changed in geo_changed_keys (a moved cluster centroid queues the
--      whole cluster; a new gazetteer moves centroids through tickets.match_clusters()).
-- tickets.resolve_changed_ticket_geoms() takes in both and places those tickets only;
-- tickets.resolve_ticket_geoms() is the full resolve: every ticket, the counts rebuilt.
--
-- Kept up to date by the same passes, so that no run scans a ticket table:
--   geo_coverage        tickets by (dataset, precision, open)
--   geo_cluster_tickets tickets and open tickets per (region, cluster) key
--   geo_addresses       open addresses worth a provider request, with their urgency
--   geo_plus_codes      location texts that may hold a plus code, not decoded yet
-- A TRUNCATE of a ticket table or a cache sets geo_state.rebuild: the next pass is full.
-- Only the geocoding passes write geom, geom_precision and geo_seen (the counts rely on it).

-- Matching key for names and addresses, as in 03 with the same results (the Python twin is
-- fleettickets.geocode.normalise): translate() with the accented letters is most of the
-- cost, and a text without a non-ASCII character needs only its ASCII apostrophes dropped.
CREATE OR REPLACE FUNCTION tickets.norm_key(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT btrim(regexp_replace(
               CASE WHEN octet_length(t) = length(t) THEN replace(replace(lower(t), '''', ''), '`', '')
                    ELSE translate(lower(t), 'àáâãäåāèéêëēìíîïīòóôõöøōùúûüūýÿçñ''‘’`´',
                                             'aaaaaaaeeeeeiiiiiooooooouuuuuyycn') END,
               '[^a-z0-9]+', ' ', 'g'))
$$;

-- What geocoding took in from a ticket: the keys it was placed by (kept so that its old
-- contribution to the counts can be taken back when it changes), whether it was open, and
-- the last_loaded_at of the content it read.
CREATE TYPE tickets.geo_seen AS (
    region_key   text,
    cluster_key  text,
    location_key text,
    pending      boolean,  -- bucket = 'pending' (coverage's "open")
    loaded_at    timestamptz
);

DO $$
DECLARE
    ds text;
BEGIN
    FOREACH ds IN ARRAY ARRAY['inc', 'crq'] LOOP
        EXECUTE format('ALTER TABLE tickets.%1$I ADD COLUMN geo_seen tickets.geo_seen', ds);
        -- Exactly the rows geocoding has not taken in as they are now (null: never).
        EXECUTE format('CREATE INDEX %1$I ON tickets.%2$I (ticket_id)'
                       ' WHERE (geo_seen).loaded_at IS DISTINCT FROM last_loaded_at',
                       ds || '_geo_changed_idx', ds);
        -- Tickets of a cache key (an answer arrived, a centroid moved).
        EXECUTE format('CREATE INDEX %1$I ON tickets.%2$I'
                       ' (((geo_seen).region_key), ((geo_seen).cluster_key), ((geo_seen).location_key))'
                       ' WHERE geo_seen IS NOT NULL',
                       ds || '_geo_key_idx', ds);
    END LOOP;
END
$$;

-- Keys whose cached answer changed since the last pass (location_key null: the whole
-- cluster). Filled by the triggers below, emptied by the pass that places their tickets.
CREATE TABLE tickets.geo_changed_keys (
    region_key   text NOT NULL,
    cluster_key  text NOT NULL,
    location_key text
);

-- Tickets by precision ('none': not placed) and open (bucket = 'pending'), per dataset.
CREATE TABLE tickets.geo_coverage (
    dataset   text NOT NULL,
    precision text NOT NULL,
    pending   boolean NOT NULL,
    tickets   bigint NOT NULL,
    PRIMARY KEY (dataset, precision, pending)
);

-- Tickets per (region, cluster) key, '' included (tickets without a cluster). Names for
-- people come from geo_clusters (the spelling first seen).
CREATE TABLE tickets.geo_cluster_tickets (
    region_key  text NOT NULL,
    cluster_key text NOT NULL,
    tickets     bigint NOT NULL,
    open        bigint NOT NULL,
    PRIMARY KEY (region_key, cluster_key)
);

-- Open addresses worth a provider request (open actionable INC, open CRQ; see
-- tickets.worth_asking), one row per normalised (region, cluster, location): the spelling
-- and cluster name the query is made of, the most urgent SLA clock, how many tickets, and
-- whether it waits for a request (its cluster has a centroid, no answer stands) as of the
-- last pass; geo_state.waiting counts those.
CREATE TABLE tickets.geo_addresses (
    region_key   text NOT NULL,
    cluster_key  text NOT NULL,
    location_key text NOT NULL,
    location     text NOT NULL,
    cluster      text,
    clock        timestamptz,
    tickets      integer NOT NULL,
    waiting      boolean NOT NULL,
    PRIMARY KEY (region_key, cluster_key, location_key)
);
-- The provider step's order: most urgent first.
CREATE INDEX geo_addresses_waiting_idx ON tickets.geo_addresses (clock, tickets DESC, location_key) WHERE waiting;
-- Misses and rejections in the order they expire (an expired one waits for a request again).
CREATE INDEX IF NOT EXISTS geo_locations_expires_idx ON tickets.geo_locations (expires_at) WHERE status <> 'ok';

-- Location texts with a '+' and no answer yet: the plus-code step decodes them offline.
CREATE TABLE tickets.geo_plus_codes (
    region_key   text NOT NULL,
    cluster_key  text NOT NULL,
    location_key text NOT NULL,
    location     text NOT NULL,  -- the least spelling with a '+'
    PRIMARY KEY (region_key, cluster_key, location_key)
);

-- One row: whether the next pass must be full, the gazetteer the clusters were matched to,
-- how many addresses wait for a request, and up to when expired answers were taken in.
CREATE TABLE tickets.geo_state (
    singleton          boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    rebuild            boolean NOT NULL DEFAULT false,
    gazetteer_checksum text,
    waiting            bigint NOT NULL DEFAULT 0,
    expired_until      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tickets.geo_state DEFAULT VALUES;

-- Whether an address is worth a provider request. The SQL twin of
-- fleettickets.geocode.normalise.is_geocodable (tests/test_geocode_offline.py holds them to
-- the same answers): not empty or N/A-like, at least 3 characters with a letter, and not
-- just the cluster's own name.
CREATE OR REPLACE FUNCTION tickets.worth_asking(location_key text, cluster_key text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT location_key IS NOT NULL
       AND location_key NOT IN ('', 'n a', 'na', 'none', 'null', 'nil', 'tbc', 'tba', 'unknown',
                                'not available', 'no address', 'kenya', '0')
       AND length(location_key) >= 3 AND location_key ~ '[a-z]'
       AND location_key IS DISTINCT FROM coalesce(cluster_key, '')
$$;

-- Cache changes -> geo_changed_keys. Statement triggers over transition tables: a step
-- that stores thousands of plus codes queues them in one INSERT.
CREATE OR REPLACE FUNCTION tickets.geo_locations_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- An 'ok' answer places tickets; any answer, or its expiry, decides whether the address
    -- still waits for a request. Queue the keys whose answer appeared, changed or went.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO tickets.geo_changed_keys
        SELECT n.region_key, n.cluster_key, n.location_key FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO tickets.geo_changed_keys
        SELECT n.region_key, n.cluster_key, n.location_key
        FROM new_rows n JOIN old_rows o USING (region_key, cluster_key, location_key)
        WHERE o.status IS DISTINCT FROM n.status OR o.precision IS DISTINCT FROM n.precision
           OR NOT (o.geom IS NOT DISTINCT FROM n.geom) OR o.expires_at IS DISTINCT FROM n.expires_at;
    ELSE
        INSERT INTO tickets.geo_changed_keys
        SELECT o.region_key, o.cluster_key, o.location_key FROM old_rows o;
    END IF;
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER geo_locations_inserted AFTER INSERT ON tickets.geo_locations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tickets.geo_locations_changed();
CREATE OR REPLACE TRIGGER geo_locations_updated AFTER UPDATE ON tickets.geo_locations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tickets.geo_locations_changed();
CREATE OR REPLACE TRIGGER geo_locations_deleted AFTER DELETE ON tickets.geo_locations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tickets.geo_locations_changed();

-- A cluster places its tickets by its centroid. New cluster rows need nothing: the pass that
-- inserts one is placing every ticket that has it.
CREATE OR REPLACE FUNCTION tickets.geo_clusters_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO tickets.geo_changed_keys (region_key, cluster_key)
        SELECT n.region_key, n.cluster_key
        FROM new_rows n JOIN old_rows o USING (region_key, cluster_key)
        WHERE NOT (o.geom IS NOT DISTINCT FROM n.geom);
    ELSE
        INSERT INTO tickets.geo_changed_keys (region_key, cluster_key)
        SELECT o.region_key, o.cluster_key FROM old_rows o WHERE o.geom IS NOT NULL;
    END IF;
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER geo_clusters_updated AFTER UPDATE ON tickets.geo_clusters
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tickets.geo_clusters_changed();
CREATE OR REPLACE TRIGGER geo_clusters_deleted AFTER DELETE ON tickets.geo_clusters
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tickets.geo_clusters_changed();

-- A TRUNCATE leaves nothing to take back by difference: the next pass starts over.
CREATE OR REPLACE FUNCTION tickets.geo_rebuild_needed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tickets.geo_state SET rebuild = true;
    RETURN NULL;
END
$$;

-- Deleted tickets (a quarantined file's rows) take their counts with them (by difference,
-- which commutes with a pass running meanwhile).
CREATE OR REPLACE FUNCTION tickets.geo_tickets_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tickets.geo_coverage AS c (dataset, precision, pending, tickets)
    SELECT TG_ARGV[0], coalesce(o.geom_precision, 'none'), (o.geo_seen).pending, -count(*)
    FROM old_rows o WHERE o.geo_seen IS NOT NULL
    GROUP BY 1, 2, 3
    ON CONFLICT (dataset, precision, pending) DO UPDATE SET tickets = c.tickets + excluded.tickets;

    INSERT INTO tickets.geo_cluster_tickets AS c (region_key, cluster_key, tickets, open)
    SELECT (o.geo_seen).region_key, (o.geo_seen).cluster_key, -count(*),
           -count(*) FILTER (WHERE (o.geo_seen).pending)
    FROM old_rows o WHERE o.geo_seen IS NOT NULL
    GROUP BY 1, 2
    ON CONFLICT (region_key, cluster_key) DO UPDATE
        SET tickets = c.tickets + excluded.tickets, open = c.open + excluded.open;

    -- their addresses are recounted by the next pass (which holds the lock the counts need)
    INSERT INTO tickets.geo_changed_keys
    SELECT DISTINCT (o.geo_seen).region_key, (o.geo_seen).cluster_key, (o.geo_seen).location_key
    FROM old_rows o WHERE o.geo_seen IS NOT NULL;
    RETURN NULL;
END
$$;


-- Addresses to recount: the caller empties pg_temp.geo_recount (geo_recount_start), fills
-- it with keys, then calls geo_recount_addresses.
CREATE OR REPLACE FUNCTION tickets.geo_recount_start() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS geo_recount (
        region_key text, cluster_key text, location_key text
    ) ON COMMIT DELETE ROWS;
    DELETE FROM pg_temp.geo_recount;
END
$$;

-- Whether a location has an answer that stands: 'ok', or a miss or rejection not yet expired.
CREATE OR REPLACE FUNCTION tickets.geo_location_answered(region_key text, cluster_key text, location_key text)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT EXISTS (
        SELECT 1 FROM tickets.geo_locations gl
        WHERE gl.region_key = $1 AND gl.cluster_key = $2 AND gl.location_key = $3
          AND (gl.status = 'ok' OR NOT coalesce(gl.expires_at <= now(), false)))
$$;

-- Whether an address waits for a request: its cluster has a centroid and no answer stands.
CREATE OR REPLACE FUNCTION tickets.geo_address_waiting(region_key text, cluster_key text, location_key text)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT EXISTS (SELECT 1 FROM tickets.geo_clusters gc
                   WHERE gc.region_key = $1 AND gc.cluster_key = $2 AND gc.geom IS NOT NULL)
       AND NOT tickets.geo_location_answered($1, $2, $3)
$$;

-- Recount geo_addresses for the keys in pg_temp.geo_recount from the tickets as they are
-- now (an address with no open ticket left goes). Returns the change in waiting addresses.
CREATE OR REPLACE FUNCTION tickets.geo_recount_addresses() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
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

    -- the open tickets an address counts (as in geo_rebuild_counts), by the keys geocoding
    -- took in, key by key through each table's *_geo_key_idx
    WITH k AS MATERIALIZED (
        SELECT DISTINCT * FROM pg_temp.geo_recount r WHERE tickets.worth_asking(r.location_key, r.cluster_key)
    ), g AS (
        SELECT o.region_key, o.cluster_key, o.location_key, min(o.location) AS location, min(o.cluster) AS cluster,
               min(o.clock) AS clock, count(*) AS tickets
        FROM (SELECT k.*, t.location, t.cluster, t.clock
              FROM k CROSS JOIN LATERAL (
                  SELECT t.location, t.cluster, coalesce(t.created_at_service, t.first_seen_at) AS clock
                  FROM tickets.inc t
                  WHERE t.geo_seen IS NOT NULL AND (t.geo_seen).region_key = k.region_key
                    AND (t.geo_seen).cluster_key = k.cluster_key AND (t.geo_seen).location_key = k.location_key
                    AND t.bucket = 'pending' AND t.is_actionable AND t.location IS NOT NULL
                  OFFSET 0) t  -- a fence: key by key, whatever the statistics say
              UNION ALL
              SELECT k.*, t.location, t.cluster, t.clock
              FROM k CROSS JOIN LATERAL (
                  SELECT t.location, t.cluster, coalesce(t.created_at_service, t.first_seen_at) AS clock
                  FROM tickets.crq t
                  WHERE t.geo_seen IS NOT NULL AND (t.geo_seen).region_key = k.region_key
                    AND (t.geo_seen).cluster_key = k.cluster_key AND (t.geo_seen).location_key = k.location_key
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
    RETURN added - gone;
END
$$;

DO $$
DECLARE
    ds text;
BEGIN
    FOREACH ds IN ARRAY ARRAY['inc', 'crq'] LOOP
        EXECUTE format('CREATE OR REPLACE TRIGGER %1$I AFTER DELETE ON tickets.%2$I REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION tickets.geo_tickets_deleted(%2$L)',
                       ds || '_geo_deleted', ds);
        EXECUTE format('CREATE OR REPLACE TRIGGER %1$I AFTER TRUNCATE ON tickets.%2$I'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION tickets.geo_rebuild_needed()',
                       ds || '_geo_truncated', ds);
    END LOOP;
END
$$;
CREATE OR REPLACE TRIGGER geo_locations_truncated AFTER TRUNCATE ON tickets.geo_locations
    FOR EACH STATEMENT EXECUTE FUNCTION tickets.geo_rebuild_needed();
CREATE OR REPLACE TRIGGER geo_clusters_truncated AFTER TRUNCATE ON tickets.geo_clusters
    FOR EACH STATEMENT EXECUTE FUNCTION tickets.geo_rebuild_needed();

-- Match every known cluster against the gazetteer again (after a new gazetteer). A gazetteer
-- match always wins over a provider's answer; a cluster that lost its match is cleared so
-- that it can be asked for again. Moved centroids queue their clusters (the trigger above).
-- New clusters are matched by the placing pass that first sees them.
CREATE OR REPLACE FUNCTION tickets.match_clusters() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    changed integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('fleettickets.geocode.resolve'));
    WITH m AS (
        SELECT gc.region_key, gc.cluster_key, tickets.gazetteer_match(gc.region_key, gc.cluster_key) AS place_id
        FROM tickets.geo_clusters gc
    )
    UPDATE tickets.geo_clusters gc
       SET place_id = m.place_id,
           source   = CASE WHEN m.place_id IS NOT NULL THEN 'gazetteer'
                           WHEN gc.source = 'gazetteer' THEN NULL ELSE gc.source END,
           geom     = CASE WHEN m.place_id IS NOT NULL THEN g.geom
                           WHEN gc.source = 'gazetteer' THEN NULL ELSE gc.geom END,
           guard_km = CASE WHEN m.place_id IS NOT NULL THEN g.guard_km
                           WHEN gc.source = 'gazetteer' THEN NULL ELSE gc.guard_km END
      FROM m LEFT JOIN tickets.gazetteer g ON g.place_id = m.place_id
     WHERE gc.region_key = m.region_key AND gc.cluster_key = m.cluster_key
       AND (gc.place_id IS DISTINCT FROM m.place_id
            OR (m.place_id IS NOT NULL AND (gc.geom IS DISTINCT FROM g.geom
                                            OR gc.guard_km IS DISTINCT FROM g.guard_km)));
    GET DIAGNOSTICS changed = ROW_COUNT;
    UPDATE tickets.geo_state SET gazetteer_checksum = (SELECT checksum FROM tickets.gazetteer_meta);
    RETURN changed;
END
$$;

-- The placing pass. p_full: every ticket, and the counts rebuilt from the tables; otherwise
-- the tickets that changed (*_geo_changed_idx) and those of the keys in geo_changed_keys.
-- Writes a ticket only when its placement or geo_seen changes (geocoded_at: when its
-- placement last changed). One pass at a time (the advisory lock, held to the end).
--
-- The rows to place are found first, by ctid, in statements whose plans cannot go wrong:
-- the planner cannot know how few rows *_geo_changed_idx holds (it guesses half the table),
-- and right after a mass update its statistics on geo_seen are stale. Past v_bound changed
-- rows (a first placement, a reseed) one sequential scan is cheaper than the index.
CREATE OR REPLACE FUNCTION tickets.geo_place(p_full boolean) RETURNS TABLE (dataset text, updated bigint)
LANGUAGE plpgsql
SET jit = off  -- compiling these plans costs more than running them
AS $$
DECLARE
    v_full    boolean;
    v_seqscan text := current_setting('enable_seqscan');
    v_bound   constant integer := 20000;
    v_scan    boolean;  -- changed rows found by scanning the table, not the index
    v_tids    tid[];
    ds        text;
    n         bigint;
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
    DELETE FROM pg_temp.geo_keys;
    DELETE FROM pg_temp.geo_done;
    WITH q AS (DELETE FROM tickets.geo_changed_keys RETURNING region_key, cluster_key, location_key)
    INSERT INTO pg_temp.geo_keys SELECT DISTINCT * FROM q WHERE NOT v_full;

    FOREACH ds IN ARRAY ARRAY['inc', 'crq'] LOOP
        v_scan := v_full;
        v_tids := '{}';
        IF NOT v_full THEN
            -- the changed rows, through the partial index
            PERFORM set_config('enable_seqscan', 'off', true);
            EXECUTE format('SELECT array_agg(ctid) FROM (SELECT t.ctid FROM tickets.%1$I t'
                           ' WHERE (t.geo_seen).loaded_at IS DISTINCT FROM t.last_loaded_at LIMIT %2$s) x',
                           ds, v_bound + 1) INTO v_tids;
            PERFORM set_config('enable_seqscan', v_seqscan, true);
            v_tids := coalesce(v_tids, '{}');
            v_scan := cardinality(v_tids) > v_bound;
            IF v_scan THEN
                v_tids := '{}';
            END IF;
            -- the unchanged rows of keys whose answer changed, key by key through *_geo_key_idx
            EXECUTE format($sql$
                SELECT $1 || coalesce(array_agg(DISTINCT x.tid), '{}') FROM (
                    SELECT t.ctid AS tid
                    FROM pg_temp.geo_keys k
                    CROSS JOIN LATERAL (
                        SELECT t.ctid FROM tickets.%1$I t
                        WHERE t.geo_seen IS NOT NULL AND (t.geo_seen).region_key = k.region_key
                          AND (t.geo_seen).cluster_key = k.cluster_key
                        OFFSET 0) t  -- a fence: key by key, whatever the statistics say
                    WHERE k.location_key IS NULL
                    UNION ALL
                    SELECT t.ctid
                    FROM pg_temp.geo_keys k
                    CROSS JOIN LATERAL (
                        SELECT t.ctid FROM tickets.%1$I t
                        WHERE t.geo_seen IS NOT NULL AND (t.geo_seen).region_key = k.region_key
                          AND (t.geo_seen).cluster_key = k.cluster_key
                          AND (t.geo_seen).location_key = k.location_key
                        OFFSET 0) t
                    WHERE k.location_key IS NOT NULL) x$sql$, ds) USING v_tids INTO v_tids;
        END IF;

        EXECUTE format($sql$
            WITH todo AS MATERIALIZED (
                SELECT t.ctid AS tid, t.geo_seen AS old_seen, t.geom_precision AS old_precision,
                       t.geom AS old_geom, t.region, t.cluster, t.location,
                       ROW(coalesce(tickets.norm_key(t.region), ''), coalesce(tickets.norm_key(t.cluster), ''),
                           coalesce(tickets.norm_key(t.location), ''), coalesce(t.bucket = 'pending', false),
                           t.last_loaded_at)::tickets.geo_seen AS new_seen
                FROM tickets.%1$I t
                WHERE t.ctid = ANY ($1)
                   OR (%2$s AND (%3$s OR (t.geo_seen).loaded_at IS DISTINCT FROM t.last_loaded_at))
            ), new_clusters AS (
                -- clusters seen for the first time, matched against the gazetteer on the way in
                INSERT INTO tickets.geo_clusters (region_key, cluster_key, region, cluster, place_id, source, geom, guard_km)
                SELECT k.region_key, k.cluster_key, k.region, k.cluster, m.place_id,
                       CASE WHEN m.place_id IS NOT NULL THEN 'gazetteer' END, g.geom, g.guard_km
                FROM (SELECT (d.new_seen).region_key, (d.new_seen).cluster_key, min(d.region) AS region,
                             min(d.cluster) AS cluster
                      FROM todo d
                      WHERE (d.new_seen).cluster_key <> ''
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
            ), want AS (
                SELECT d.*, CASE WHEN gl.geom IS NOT NULL THEN gl.geom ELSE gc.geom END AS geom,
                       CASE WHEN gl.geom IS NOT NULL THEN gl.precision
                            WHEN gc.geom IS NOT NULL THEN 'cluster' END AS precision
                FROM todo d
                LEFT JOIN clusters gc
                       ON gc.region_key = (d.new_seen).region_key AND gc.cluster_key = (d.new_seen).cluster_key
                LEFT JOIN tickets.geo_locations gl
                       ON gl.region_key = (d.new_seen).region_key AND gl.cluster_key = (d.new_seen).cluster_key
                      AND gl.location_key = (d.new_seen).location_key AND (d.new_seen).location_key <> ''
                      AND gl.status = 'ok'
            ), placed AS (
                -- by ctid: a row the loader changed meanwhile is left alone (a newer version has
                -- another ctid) and stays in *_geo_changed_idx for the next pass
                UPDATE tickets.%1$I t
                   SET geom = w.geom, geom_precision = w.precision, geo_seen = w.new_seen,
                       geocoded_at = CASE WHEN w.old_precision IS DISTINCT FROM w.precision
                                            OR NOT (w.old_geom IS NOT DISTINCT FROM w.geom)
                                          THEN now() ELSE t.geocoded_at END
                  FROM want w
                 WHERE t.ctid = w.tid
                   AND (t.geo_seen IS DISTINCT FROM w.new_seen
                        OR t.geom_precision IS DISTINCT FROM w.precision
                        OR NOT (t.geom IS NOT DISTINCT FROM w.geom))
                RETURNING w.old_seen, w.new_seen, w.old_precision, w.precision,
                          w.old_precision IS DISTINCT FROM w.precision
                          OR NOT (w.old_geom IS NOT DISTINCT FROM w.geom) AS moved,
                          w.location
            )
            INSERT INTO pg_temp.geo_done
            SELECT %1$L, p.* FROM placed p$sql$, ds, v_scan::text, v_full::text) USING v_tids;

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

-- The counts, by difference: each ticket written by the pass takes back what geocoding had
-- taken in from it (geo_seen and precision before) and adds what it is now.
CREATE OR REPLACE FUNCTION tickets.geo_count_changes() RETURNS void
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
        PERFORM tickets.geo_rebuild_addresses();
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

-- Every address counted again from the tables, and the addresses waiting for a request.
CREATE OR REPLACE FUNCTION tickets.geo_rebuild_addresses() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tickets.geo_addresses;
    INSERT INTO tickets.geo_addresses (region_key, cluster_key, location_key, location, cluster, clock, tickets, waiting)
    SELECT g.*, gc.geom IS NOT NULL AND gl.location_key IS NULL  -- as tickets.geo_address_waiting
    FROM (SELECT (o.s).region_key, (o.s).cluster_key, (o.s).location_key, min(o.location), min(o.cluster),
                 min(o.clock), count(*)
          FROM (SELECT geo_seen AS s, location, cluster, coalesce(created_at_service, first_seen_at) AS clock
                FROM tickets.inc
                WHERE geo_seen IS NOT NULL AND bucket = 'pending' AND is_actionable AND location IS NOT NULL
                UNION ALL
                SELECT geo_seen, location, cluster, coalesce(created_at_service, first_seen_at)
                FROM tickets.crq
                WHERE geo_seen IS NOT NULL AND bucket = 'pending' AND location IS NOT NULL) o
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

-- The counts from the tables (a full pass).
CREATE OR REPLACE FUNCTION tickets.geo_rebuild_counts() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tickets.geo_coverage;
    DELETE FROM tickets.geo_cluster_tickets;
    DELETE FROM tickets.geo_plus_codes;

    INSERT INTO tickets.geo_coverage (dataset, precision, pending, tickets)
    SELECT 'inc', coalesce(geom_precision, 'none'), (geo_seen).pending, count(*)
    FROM tickets.inc WHERE geo_seen IS NOT NULL GROUP BY 1, 2, 3
    UNION ALL
    SELECT 'crq', coalesce(geom_precision, 'none'), (geo_seen).pending, count(*)
    FROM tickets.crq WHERE geo_seen IS NOT NULL GROUP BY 1, 2, 3;

    INSERT INTO tickets.geo_cluster_tickets (region_key, cluster_key, tickets, open)
    SELECT (s).region_key, (s).cluster_key, count(*), count(*) FILTER (WHERE (s).pending)
    FROM (SELECT geo_seen AS s FROM tickets.inc WHERE geo_seen IS NOT NULL
          UNION ALL SELECT geo_seen FROM tickets.crq WHERE geo_seen IS NOT NULL) x
    GROUP BY 1, 2;

    PERFORM tickets.geo_rebuild_addresses();

    INSERT INTO tickets.geo_plus_codes (region_key, cluster_key, location_key, location)
    SELECT (k.s).region_key, (k.s).cluster_key, (k.s).location_key, min(k.location)
    FROM (SELECT geo_seen AS s, location FROM tickets.inc WHERE location LIKE '%+%' AND geo_seen IS NOT NULL
          UNION ALL
          SELECT geo_seen, location FROM tickets.crq WHERE location LIKE '%+%' AND geo_seen IS NOT NULL) k
    WHERE (k.s).location_key <> ''
      AND NOT tickets.geo_location_answered((k.s).region_key, (k.s).cluster_key, (k.s).location_key)
    GROUP BY 1, 2, 3;
END
$$;

-- The full resolve (its name and shape are the ones callers know): every ticket placed from
-- the caches, every count rebuilt. Per dataset, the rows whose placement changed.
CREATE OR REPLACE FUNCTION tickets.resolve_ticket_geoms()
RETURNS TABLE (dataset text, updated bigint)
LANGUAGE sql AS $$
    SELECT * FROM tickets.geo_place(true)
$$;

-- The pass every run makes: only what changed since the last pass.
CREATE OR REPLACE FUNCTION tickets.resolve_changed_ticket_geoms()
RETURNS TABLE (dataset text, updated bigint)
LANGUAGE sql AS $$
    SELECT * FROM tickets.geo_place(false)
$$;

GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE
    ON tickets.geo_changed_keys, tickets.geo_coverage, tickets.geo_cluster_tickets, tickets.geo_addresses,
       tickets.geo_plus_codes, tickets.geo_state
    TO fleettickets_loader;
