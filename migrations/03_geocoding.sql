-- Geocoding: the cluster gazetteer, the caches of clusters and locations, the shared daily
-- request budget, and tickets.resolve_ticket_geoms() that places every ticket from them.
-- Ladder (DESIGN.md): plus_code > location (hit within the cluster's guard radius) > cluster > none.

-- Matching key for names and addresses. Its Python twin is fleettickets.geocode.normalise:
-- lowercase, fold common Latin accents, drop apostrophes (Lang'ata = Langata), and collapse
-- every other run of non-alphanumerics into one space. Never raises; null stays null.
CREATE OR REPLACE FUNCTION tickets.norm_key(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT btrim(regexp_replace(
               translate(lower(t), 'àáâãäåāèéêëēìíîïīòóôõöøōùúûüūýÿçñ''‘’`´',
                                   'aaaaaaaeeeeeiiiiiooooooouuuuuyycn'),
               '[^a-z0-9]+', ' ', 'g'))
$$;

-- The gazetteer: curated Kenyan service clusters, loaded from fleettickets/data/gazetteer.csv
-- by `fleettickets migrate` (fleettickets.geocode.gazetteer), replaced whole when the file changes.
CREATE TABLE IF NOT EXISTS tickets.gazetteer (
    place_id   text PRIMARY KEY,             -- '<region>/<name>', e.g. 'nairobi/kilimani'
    name       text NOT NULL,
    region     text NOT NULL,                -- the ISP's service region, lowercase
    county     text,
    kind       text NOT NULL,
    aliases    text[] NOT NULL DEFAULT '{}',
    geom       geometry(Point, 4326) NOT NULL,
    guard_km   double precision NOT NULL CHECK (guard_km > 0),
    geonameid  bigint,
    source     text NOT NULL
);
-- Every name and alias of a place, normalised; unique within a region.
CREATE TABLE IF NOT EXISTS tickets.gazetteer_names (
    region_key text NOT NULL,
    name_key   text NOT NULL,
    place_id   text NOT NULL REFERENCES tickets.gazetteer ON DELETE CASCADE,
    PRIMARY KEY (region_key, name_key)
);
CREATE INDEX IF NOT EXISTS gazetteer_names_name_idx ON tickets.gazetteer_names (name_key);
-- Which version of the file is loaded (one row).
CREATE TABLE IF NOT EXISTS tickets.gazetteer_meta (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    text NOT NULL,
    checksum   text NOT NULL,
    places     integer NOT NULL,
    loaded_at  timestamptz NOT NULL DEFAULT now()
);

-- The gazetteer place for a ticket's (region, cluster), or null. In this order:
--   1. the name or an alias within the ticket's region (Rongai in 'nairobi' is Ongata Rongai,
--      Rongai in 'rift valley' is the Nakuru county town: they never swap);
--   2. the same with a leading city name or a trailing 'estate'/'town'/'area' taken off
--      ('Mombasa Kizingo', 'Donholm Estate');
--   3. the name anywhere in Kenya, but only when exactly one place has it (a ticket whose
--      region is missing or wrong still lands, an ambiguous name never guesses).
CREATE OR REPLACE FUNCTION tickets.gazetteer_match(region text, cluster text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH k AS (
        SELECT tickets.norm_key(region) AS r, tickets.norm_key(cluster) AS c,
               btrim(regexp_replace(regexp_replace(tickets.norm_key(cluster),
                   '^(nairobi|mombasa|kisumu|nakuru|eldoret|thika) ', ''), ' (estate|town|area)$', '')) AS s
    )
    SELECT coalesce(
        (SELECT n.place_id FROM tickets.gazetteer_names n, k WHERE n.region_key = k.r AND n.name_key = k.c),
        (SELECT n.place_id FROM tickets.gazetteer_names n, k
          WHERE n.region_key = k.r AND n.name_key = k.s AND k.s <> ''),
        (SELECT min(n.place_id) FROM tickets.gazetteer_names n, k
          WHERE n.name_key = k.c HAVING count(DISTINCT n.place_id) = 1)
    )
$$;

-- The cluster cache: one row per (region, cluster) seen on a ticket, with where it is.
-- source 'gazetteer' (matched offline) or a provider's name (`cluster, region, Kenya` was
-- geocoded once because nothing in the gazetteer matched). Misses expire and are retried.
CREATE TABLE IF NOT EXISTS tickets.geo_clusters (
    region_key    text NOT NULL,
    cluster_key   text NOT NULL,
    region        text,                      -- as first seen on a ticket
    cluster       text,
    place_id      text,                      -- gazetteer match, null when none
    source        text,                      -- 'gazetteer' | 'locationiq' | 'nominatim' | null
    status        text CHECK (status IN ('ok', 'miss')),  -- provider answer (null: not asked)
    geom          geometry(Point, 4326),
    guard_km      double precision,          -- null: GEOCODER_GUARD_KM
    query         text,                      -- what the provider was asked (never a key)
    raw           jsonb,
    fetched_at    timestamptz,
    expires_at    timestamptz,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (region_key, cluster_key)
);

-- The location cache: one row per normalised (region, cluster, location text). Genuine
-- answers only: 'ok' (a point within the guard radius, or a decoded plus code), 'miss'
-- (the provider found nothing) and 'guard_rejected' (all it found was too far from the
-- cluster). Rate limits, quota, outages and timeouts are never written here.
CREATE TABLE IF NOT EXISTS tickets.geo_locations (
    region_key    text NOT NULL,
    cluster_key   text NOT NULL,
    location_key  text NOT NULL,
    location      text,                      -- one original spelling, for people
    query         text,                      -- the normalised query sent, or the plus code
    request       jsonb,                     -- query parameters sent (never the key)
    provider      text NOT NULL,             -- 'locationiq' | 'nominatim' | 'plus_code'
    status        text NOT NULL CHECK (status IN ('ok', 'miss', 'guard_rejected')),
    precision     text CHECK (precision IN ('plus_code', 'location')),
    geom          geometry(Point, 4326),
    distance_km   double precision,          -- from the cluster centroid (best candidate if rejected)
    candidates    integer,
    raw           jsonb,                     -- the provider's response, as received
    fetched_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,               -- misses and rejections are asked again after this
    PRIMARY KEY (region_key, cluster_key, location_key),
    CHECK ((status = 'ok') = (geom IS NOT NULL AND precision IS NOT NULL))
);

-- Requests per provider per UTC day (LocationIQ resets at 00:00 UTC), shared by every run
-- of both flows: a request is sent only after its row is counted here, in one statement.
-- next_slot_at spaces requests from all runs; stopped_* ends the day (429 'Rate Limited
-- Day', 402, 403).
CREATE TABLE IF NOT EXISTS tickets.geocoder_budget (
    provider       text NOT NULL,
    day            date NOT NULL,
    requests       integer NOT NULL DEFAULT 0,
    next_slot_at   timestamptz,
    stopped_reason text,
    stopped_at     timestamptz,
    PRIMARY KEY (provider, day)
);

-- Record every (region, cluster) on a ticket and (re)match all of them against the gazetteer.
-- A gazetteer match always wins over a provider's answer; a cluster that lost its match
-- (gazetteer changed) is cleared so that it can be asked for again. Concurrent callers (both
-- flows) take turns on a transaction-level advisory lock rather than deadlock on row order.
CREATE OR REPLACE FUNCTION tickets.match_clusters() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    changed integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('fleettickets.geocode.resolve'));
    INSERT INTO tickets.geo_clusters (region_key, cluster_key, region, cluster)
    SELECT DISTINCT ON (k.region_key, k.cluster_key) k.region_key, k.cluster_key, k.region, k.cluster
    FROM (SELECT coalesce(tickets.norm_key(t.region), '') AS region_key,
                 coalesce(tickets.norm_key(t.cluster), '') AS cluster_key, t.region, t.cluster
          FROM (SELECT region, cluster FROM tickets.inc UNION SELECT region, cluster FROM tickets.crq) t) k
    WHERE k.cluster_key <> ''
    ORDER BY k.region_key, k.cluster_key, k.region, k.cluster
    ON CONFLICT DO NOTHING;

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
    RETURN changed;
END
$$;

-- Set every INC and CRQ ticket's geometry (SRID 4326) and precision from the caches, in one
-- set-based statement per table; rows whose placement did not change are not written (so a
-- rerun rewrites nothing, and geocoded_at says when a ticket's placement last changed).
-- One caller at a time (the same advisory lock as match_clusters, held to the end).
CREATE OR REPLACE FUNCTION tickets.resolve_ticket_geoms()
RETURNS TABLE (dataset text, updated bigint)
LANGUAGE plpgsql AS $$
DECLARE
    ds text;
    n  bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('fleettickets.geocode.resolve'));
    PERFORM tickets.match_clusters();
    FOREACH ds IN ARRAY ARRAY['inc', 'crq'] LOOP
        EXECUTE format($sql$
            WITH want AS (
                SELECT t.ticket_id,
                       CASE WHEN gl.geom IS NOT NULL THEN gl.geom ELSE gc.geom END AS geom,
                       CASE WHEN gl.geom IS NOT NULL THEN gl.precision
                            WHEN gc.geom IS NOT NULL THEN 'cluster' END AS geom_precision
                FROM tickets.%1$I t
                LEFT JOIN tickets.geo_clusters gc
                       ON gc.region_key = coalesce(tickets.norm_key(t.region), '')
                      AND gc.cluster_key = coalesce(tickets.norm_key(t.cluster), '')
                LEFT JOIN tickets.geo_locations gl
                       ON gl.region_key = coalesce(tickets.norm_key(t.region), '')
                      AND gl.cluster_key = coalesce(tickets.norm_key(t.cluster), '')
                      AND gl.location_key = tickets.norm_key(t.location)
                      AND gl.status = 'ok'
            )
            UPDATE tickets.%1$I t
               SET geom = w.geom, geom_precision = w.geom_precision, geocoded_at = now()
              FROM want w
             WHERE t.ticket_id = w.ticket_id
               AND (t.geom_precision IS DISTINCT FROM w.geom_precision
                    OR NOT (t.geom IS NOT DISTINCT FROM w.geom))$sql$, ds);
        GET DIAGNOSTICS n = ROW_COUNT;
        dataset := ds;
        updated := n;
        RETURN NEXT;
    END LOOP;
END
$$;
