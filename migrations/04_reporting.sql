-- Reporting: what the FleetOps "Tickets" map, SLA tracking, FleetNow and the managers' closure
-- reports read. Dashboards read functions, never tables: 05_roles.sql makes the table
-- functions SECURITY DEFINER, owned by a read-only role, executable by dashboard_api.
-- Definitions: ../shared/contract/EXPORT_FORMAT.md; one page per function in docs/reporting/.

-- Both ticket tables as one relation with a `dataset` column. UNION ALL of plain columns, so
-- the planner flattens it into an append of the two tables and pushes filters, partial
-- indexes and ORDER BY ... LIMIT (a Merge Append of index scans) down into each table.
-- security_invoker: whoever reads it needs SELECT on the tables themselves.
CREATE OR REPLACE VIEW tickets.all_tickets WITH (security_invoker = true) AS
SELECT 'inc'::text AS dataset, ticket_id, bucket, raw_status, is_actionable, region, cluster,
       location, summary, category, priority, assigned_team, owner, created_at_service,
       closed_at, sla_status, mttr, created_at, updated_at, first_seen_at, last_seen_at, geom,
       geom_precision, geocoded_at, source_key, file_ts, first_loaded_at, last_loaded_at
FROM tickets.inc
UNION ALL
SELECT 'crq'::text AS dataset, ticket_id, bucket, raw_status, is_actionable, region, cluster,
       location, summary, category, priority, assigned_team, owner, created_at_service,
       closed_at, sla_status, mttr, created_at, updated_at, first_seen_at, last_seen_at, geom,
       geom_precision, geocoded_at, source_key, file_ts, first_loaded_at, last_loaded_at
FROM tickets.crq;

-- Indexes the functions rely on (02 already has: open by (region, cluster), open by SLA
-- clock, and a GiST on geom over every ticket).
DO $$
DECLARE
    ds text;
BEGIN
    FOREACH ds IN ARRAY ARRAY['inc', 'crq'] LOOP
        -- FleetNow: nearest open actionable tickets. `geography <->` is KNN on the sphere,
        -- served by this index; fn_nearest_open_tickets re-ranks on the spheroid.
        EXECUTE format('CREATE INDEX IF NOT EXISTS %1$I ON tickets.%2$I USING gist ((geom::geography))'
                       ' WHERE bucket = ''pending'' AND is_actionable', ds || '_open_geog_idx', ds);
        -- The map's viewport of open tickets (02's geom index covers every ticket).
        EXECUTE format('CREATE INDEX IF NOT EXISTS %1$I ON tickets.%2$I USING gist (geom)'
                       ' WHERE bucket = ''pending''', ds || '_open_geom_idx', ds);
        -- Closed tickets, newest closure first (the map's closed view, closure reports).
        EXECUTE format('CREATE INDEX IF NOT EXISTS %1$I ON tickets.%2$I (closed_at DESC NULLS LAST)'
                       ' WHERE bucket = ''closed''', ds || '_closed_at_idx', ds);
        -- A bucket outside the contract (normally none): keeps the map's 'all' view off a full scan.
        EXECUTE format('CREATE INDEX IF NOT EXISTS %1$I ON tickets.%2$I (closed_at DESC NULLS LAST)'
                       ' WHERE bucket IS DISTINCT FROM ''pending'' AND bucket IS DISTINCT FROM ''closed''',
                       ds || '_other_bucket_idx', ds);
    END LOOP;
END
$$;

-- The history rows where an INC ticket entered `closed` (its first sighting included).
CREATE INDEX IF NOT EXISTS inc_history_closing_idx ON tickets.inc_history (ticket_id, file_ts DESC)
    WHERE bucket = 'closed' AND prev_bucket IS DISTINCT FROM 'closed';


-- The SLA state of one ticket: the only definition; every function below calls it.
--   closed (bucket 'closed'): state 'closed'; the source sla_status and mttr are passed
--     through untouched and nothing is recomputed (clock, age and hours left are null).
--   open (bucket 'pending'): the clock starts at created_at_service, else first_seen_at;
--     age = as_of - clock; >= 48 h 'breached', >= 36 h 'at_risk', else 'on_track';
--     'unknown' when neither timestamp is known.
--   any other bucket (outside the contract): 'unknown'.
-- Ages are exact intervals between two instants (timestamptz), so the session's TimeZone
-- plays no part; the typed columns are already EAT-parsed. age_hours is truncated (not
-- rounded) to 2 decimals so it never shows 48.00 for a ticket that is not yet breached;
-- hours_to_breach = 48 - age_hours (negative: hours overdue).
-- A plain SQL set-returning function, not STRICT, not SECURITY DEFINER, no SET clause: the
-- planner inlines it into the calling query (CROSS JOIN LATERAL), so it costs no call per row.
CREATE OR REPLACE FUNCTION reporting.fn_sla_state(
    p_bucket             text,
    p_created_at_service timestamptz,
    p_first_seen_at      timestamptz,
    p_sla_status         text DEFAULT NULL,
    p_mttr               numeric DEFAULT NULL,
    p_as_of              timestamptz DEFAULT now()
) RETURNS TABLE (
    sla_state        text,
    sla_clock        text,
    clock_started_at timestamptz,
    breach_at        timestamptz,
    age_hours        numeric,
    hours_to_breach  numeric,
    sla_status       text,
    mttr             numeric
)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE
               WHEN p_bucket = 'closed' THEN 'closed'
               WHEN c.started IS NULL THEN 'unknown'
               WHEN c.age >= interval '48 hours' THEN 'breached'
               WHEN c.age >= interval '36 hours' THEN 'at_risk'
               ELSE 'on_track'
           END,
           CASE
               WHEN c.started IS NULL THEN NULL
               WHEN p_created_at_service IS NOT NULL THEN 'created_at_service'
               ELSE 'first_seen_at'
           END,
           c.started,
           c.started + interval '48 hours',
           trunc(extract(epoch FROM c.age) / 3600, 2),
           48 - trunc(extract(epoch FROM c.age) / 3600, 2),
           p_sla_status,
           p_mttr
    FROM (
        SELECT o.started, coalesce(p_as_of, now()) - o.started AS age
        FROM (SELECT CASE WHEN p_bucket = 'pending'
                          THEN coalesce(p_created_at_service, p_first_seen_at) END AS started) o
    ) c
$$;


-- One row per ticket for the FleetOps map. Filters: datasets, status (open | closed | all),
-- SLA states, region (any case), cluster (exact), bounding box {west, south, east, north}
-- in WGS84 degrees, changed in this database since (loaded or geocoded), limit. Order: open
-- tickets first by urgency (oldest SLA clock first, i.e. most overdue first; then priority;
-- tickets without a clock last), then closed tickets, most recently closed first.
-- Each status is its own branch with its own ORDER BY ... LIMIT, so an open-ticket page
-- reads the partial open index in clock order and stops early; custom plans (the filter
-- values are known when planning) let partial and GiST indexes apply.
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

    RETURN QUERY
    WITH f AS NOT MATERIALIZED (
        SELECT t.dataset, t.ticket_id, t.bucket, t.raw_status, t.is_actionable, t.region,
               t.cluster, t.location, t.geom, t.geom_precision, t.assigned_team, t.owner,
               t.summary, t.category, t.priority, t.created_at_service, t.first_seen_at,
               t.closed_at, t.updated_at, t.last_loaded_at,
               s.sla_state, s.sla_clock, s.clock_started_at, s.breach_at, s.age_hours,
               s.hours_to_breach, s.sla_status, s.mttr
        FROM tickets.all_tickets t
        CROSS JOIN LATERAL reporting.fn_sla_state(t.bucket, t.created_at_service, t.first_seen_at,
                                                  t.sla_status, t.mttr, v_as_of) s
        WHERE (p_datasets IS NULL OR t.dataset = ANY (p_datasets))
          AND (v_region IS NULL OR t.region = v_region)
          AND (p_cluster IS NULL OR t.cluster = p_cluster)
          AND (v_box IS NULL OR t.geom && v_box)
          AND (p_updated_since IS NULL OR t.last_loaded_at >= p_updated_since
               OR t.geocoded_at >= p_updated_since)
          AND (p_sla_states IS NULL OR s.sla_state = ANY (p_sla_states))
    ),
    open_rows AS (
        SELECT f.* FROM f
        WHERE p_status IN ('open', 'all') AND f.bucket = 'pending'
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


-- The n nearest open actionable tickets to a point, by true (spheroidal, WGS84) distance.
-- 1. KNN on the partial GiST index (geography <-> is the distance on the sphere) finds how
--    far out the n nearest lie on the sphere (`reach`).
-- 2. Spheroid and sphere distances differ by less than 1% (about -0.56%..+0.45% for the
--    mean-radius sphere), so every ticket that can be among the n nearest on the spheroid
--    lies within reach * 1.01 / 0.99 on the sphere: an index-driven ST_DWithin fetches that
--    small set, which is ranked by ST_Distance on the spheroid. Exact, and index-driven.
-- p_max_km bounds the (spheroidal) distance; tickets without a geometry are never returned.
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
        SELECT t.geom::geography <-> v_pt AS d
        FROM tickets.all_tickets t
        CROSS JOIN LATERAL reporting.fn_sla_state(t.bucket, t.created_at_service, t.first_seen_at,
                                                  NULL, NULL, v_as_of) s
        WHERE t.bucket = 'pending' AND t.is_actionable AND t.geom IS NOT NULL
          AND (p_datasets IS NULL OR t.dataset = ANY (p_datasets))
          AND (p_precisions IS NULL OR t.geom_precision = ANY (p_precisions))
          AND (p_sla_states IS NULL OR s.sla_state = ANY (p_sla_states))
          AND (v_max_m IS NULL OR ST_DWithin(t.geom::geography, v_pt, v_max_m / 0.99, false))
        ORDER BY t.geom::geography <-> v_pt
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
        SELECT t.*, ST_Distance(t.geom::geography, v_pt) AS distance_m,
               s.sla_state, s.sla_clock, s.clock_started_at, s.breach_at, s.age_hours,
               s.hours_to_breach
        FROM tickets.all_tickets t
        CROSS JOIN LATERAL reporting.fn_sla_state(t.bucket, t.created_at_service, t.first_seen_at,
                                                  NULL, NULL, v_as_of) s
        WHERE t.bucket = 'pending' AND t.is_actionable AND t.geom IS NOT NULL
          AND (p_datasets IS NULL OR t.dataset = ANY (p_datasets))
          AND (p_precisions IS NULL OR t.geom_precision = ANY (p_precisions))
          AND (p_sla_states IS NULL OR s.sla_state = ANY (p_sla_states))
          AND ST_DWithin(t.geom::geography, v_pt, v_reach * 1.01 / 0.99, false)
    ) c
    WHERE v_max_m IS NULL OR c.distance_m <= v_max_m
    ORDER BY c.distance_m, c.dataset, c.ticket_id
    LIMIT p_n;
END
$fn$;


-- Open tickets by dataset, region and cluster: how many, in which SLA state, and the oldest.
CREATE OR REPLACE FUNCTION reporting.fn_sla_summary(
    p_datasets        text[]      DEFAULT NULL,
    p_region          text        DEFAULT NULL,
    p_actionable_only boolean     DEFAULT false,
    p_as_of           timestamptz DEFAULT now()
) RETURNS TABLE (
    dataset                 text,
    region                  text,
    cluster                 text,
    open                    bigint,
    on_track                bigint,
    at_risk                 bigint,
    breached                bigint,
    unknown                 bigint,
    oldest_ticket_id        text,
    oldest_clock_started_at timestamptz,
    oldest_age_hours        numeric
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
BEGIN
    IF NOT coalesce(p_datasets <@ ARRAY['inc', 'crq'], true) OR array_position(p_datasets, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'p_datasets must hold inc and/or crq, not %', p_datasets
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Counts by hash aggregation; then the oldest ticket of each group by an index probe on
    -- its clock (the *_open_sla_clock_idx expression), checked against the SLA clock itself.
    RETURN QUERY
    WITH o AS NOT MATERIALIZED (
        SELECT t.dataset, t.region, t.cluster, t.ticket_id, t.created_at_service, t.first_seen_at,
               s.sla_state, s.clock_started_at, s.age_hours
        FROM tickets.all_tickets t
        CROSS JOIN LATERAL reporting.fn_sla_state(t.bucket, t.created_at_service, t.first_seen_at,
                                                  NULL, NULL, v_as_of) s
        WHERE t.bucket = 'pending'
          AND (p_datasets IS NULL OR t.dataset = ANY (p_datasets))
          AND (v_region IS NULL OR t.region = v_region)
          AND (NOT coalesce(p_actionable_only, false) OR t.is_actionable)
    ),
    g AS (
        SELECT o.dataset, o.region, o.cluster,
               count(*) AS open,
               count(*) FILTER (WHERE o.sla_state = 'on_track') AS on_track,
               count(*) FILTER (WHERE o.sla_state = 'at_risk') AS at_risk,
               count(*) FILTER (WHERE o.sla_state = 'breached') AS breached,
               count(*) FILTER (WHERE o.sla_state = 'unknown') AS unknown,
               min(o.clock_started_at) AS oldest_clock,
               max(o.age_hours) AS oldest_age
        FROM o
        GROUP BY o.dataset, o.region, o.cluster
    )
    SELECT g.dataset, g.region, g.cluster, g.open, g.on_track, g.at_risk, g.breached, g.unknown,
           oldest.ticket_id, g.oldest_clock, g.oldest_age
    FROM g
    LEFT JOIN LATERAL (
        SELECT o.ticket_id FROM o
        WHERE o.dataset = g.dataset
          AND o.region IS NOT DISTINCT FROM g.region
          AND o.cluster IS NOT DISTINCT FROM g.cluster
          AND coalesce(o.created_at_service, o.first_seen_at) = g.oldest_clock
          AND o.clock_started_at = g.oldest_clock
        ORDER BY o.ticket_id
        LIMIT 1
    ) oldest ON true
    ORDER BY g.breached DESC, g.at_risk DESC, g.open DESC, g.dataset, g.region, g.cluster;
END
$fn$;


-- Closure attribution, one row per closed INC ticket: the team that held it when it closed.
-- The closing moment is the ticket's latest entry into `closed` in tickets.inc_history (a
-- first sighting as closed counts); team = that row's assigned_team, else its owner. Changes
-- after the closure (a closed ticket re-routed) do not move the credit; a reopened ticket
-- is credited at its last closure. A closed ticket without such a history row (loaded
-- before history existed) falls back to its current row (from_history = false).
-- closed_on: the EAT date of closed_at (of the closing file's time when closed_at is
-- unparseable). Written once as a view (not readable by dashboard_api) so that the
-- per-ticket function and the team report share it and the report aggregates it directly.
CREATE OR REPLACE VIEW tickets.inc_closures WITH (security_invoker = true) AS
SELECT x.ticket_id,
       coalesce(x.assigned_team_at_close, x.owner_at_close) AS team,
       CASE WHEN x.assigned_team_at_close IS NOT NULL THEN 'assigned_team'
            WHEN x.owner_at_close IS NOT NULL THEN 'owner' END AS team_source,
       x.from_history, x.closed_at, x.closed_on, x.closing_file_ts, x.closing_source_key,
       x.assigned_team_at_close, x.owner_at_close, x.current_assigned_team, x.current_owner,
       x.sla_status, x.mttr, x.region, x.cluster, x.priority
FROM (
    SELECT i.ticket_id,
           (h.ticket_id IS NOT NULL) AS from_history,
           CASE WHEN h.ticket_id IS NOT NULL THEN h.assigned_team ELSE i.assigned_team END AS assigned_team_at_close,
           CASE WHEN h.ticket_id IS NOT NULL THEN h.owner ELSE i.owner END AS owner_at_close,
           i.closed_at,
           (coalesce(i.closed_at, h.file_ts, i.file_ts) AT TIME ZONE 'Africa/Nairobi')::date AS closed_on,
           h.file_ts AS closing_file_ts, h.source_key AS closing_source_key,
           i.assigned_team AS current_assigned_team, i.owner AS current_owner,
           i.sla_status, i.mttr, i.region, i.cluster, i.priority
    FROM tickets.inc i
    LEFT JOIN (
        SELECT DISTINCT ON (h.ticket_id) h.ticket_id, h.file_ts, h.source_key, h.assigned_team, h.owner
        FROM tickets.inc_history h
        WHERE h.bucket = 'closed' AND h.prev_bucket IS DISTINCT FROM 'closed'
        ORDER BY h.ticket_id, h.file_ts DESC
    ) h ON h.ticket_id = i.ticket_id
    WHERE i.bucket = 'closed'
) x;

-- The attribution, per ticket, closed between two EAT dates (inclusive; null: open-ended).
CREATE OR REPLACE FUNCTION reporting.fn_inc_closures(
    p_from date DEFAULT NULL,
    p_to   date DEFAULT NULL
) RETURNS TABLE (
    ticket_id              text,
    team                   text,
    team_source            text,
    from_history           boolean,
    closed_at              timestamptz,
    closed_on              date,
    closing_file_ts        timestamptz,
    closing_source_key     text,
    assigned_team_at_close text,
    owner_at_close         text,
    current_assigned_team  text,
    current_owner          text,
    sla_status             text,
    mttr                   numeric,
    region                 text,
    cluster                text,
    priority               text
)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_custom_plan
SET jit = off
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT c.ticket_id, c.team, c.team_source, c.from_history, c.closed_at, c.closed_on,
           c.closing_file_ts, c.closing_source_key, c.assigned_team_at_close, c.owner_at_close,
           c.current_assigned_team, c.current_owner, c.sla_status, c.mttr, c.region, c.cluster,
           c.priority
    FROM tickets.inc_closures c
    WHERE (p_from IS NULL OR c.closed_on >= p_from)
      AND (p_to IS NULL OR c.closed_on <= p_to)
    ORDER BY c.closed_on, c.ticket_id;
END
$fn$;


-- Closures by team and EAT day or ISO week (Monday), from the same attribution: closed, within SLA
-- and breached by the source's own verdict (sla_status compared case- and space-insensitively,
-- never recomputed), other (any other or no verdict), the within-SLA share of tickets with a
-- verdict, and the median source mttr (hours).
CREATE OR REPLACE FUNCTION reporting.fn_team_closures(
    p_grain text DEFAULT 'day',
    p_from  date DEFAULT NULL,
    p_to    date DEFAULT NULL
) RETURNS TABLE (
    period_start   date,
    team           text,
    closed         bigint,
    within_sla     bigint,
    breached       bigint,
    other_sla      bigint,
    within_sla_pct numeric,
    median_mttr    numeric
)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_custom_plan
SET jit = off
AS $fn$
#variable_conflict use_column
BEGIN
    IF p_grain IS NULL OR p_grain NOT IN ('day', 'week') THEN
        RAISE EXCEPTION 'p_grain must be day or week, not %', coalesce(p_grain, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    RETURN QUERY
    SELECT g.period_start, g.team, g.closed, g.within_sla, g.breached,
           g.closed - g.within_sla - g.breached,
           round(100.0 * g.within_sla / nullif(g.within_sla + g.breached, 0), 1),
           g.median_mttr
    FROM (
        SELECT CASE WHEN p_grain = 'week' THEN date_trunc('week', c.closed_on::timestamp)::date
                    ELSE c.closed_on END AS period_start,
               c.team,
               count(*) AS closed,
               count(*) FILTER (WHERE lower(btrim(c.sla_status)) = 'within sla') AS within_sla,
               count(*) FILTER (WHERE lower(btrim(c.sla_status)) = 'breached') AS breached,
               round((percentile_cont(0.5) WITHIN GROUP (ORDER BY c.mttr))::numeric, 2) AS median_mttr
        FROM tickets.inc_closures c
        WHERE (p_from IS NULL OR c.closed_on >= p_from)
          AND (p_to IS NULL OR c.closed_on <= p_to)
        GROUP BY 1, 2
    ) g
    ORDER BY g.period_start, g.closed DESC, g.team NULLS LAST;
END
$fn$;
