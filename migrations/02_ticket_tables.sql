-- One table per dataset with the same shape: the cleaned source row as jsonb, the file
-- that last set it, and a STORED typed column per kept contract column under the
-- contract's own name. Written once as a loop so the two tables cannot drift apart.
DO $$
DECLARE
    ds text;
BEGIN
    FOREACH ds IN ARRAY ARRAY['inc', 'crq'] LOOP
        EXECUTE format($ddl$
            CREATE TABLE IF NOT EXISTS tickets.%1$I (
                ticket_id          text PRIMARY KEY,
                raw                jsonb NOT NULL,
                source_key         text NOT NULL,
                file_ts            timestamptz NOT NULL,
                first_loaded_at    timestamptz NOT NULL DEFAULT now(),
                last_loaded_at     timestamptz NOT NULL DEFAULT now(),
                is_actionable      boolean GENERATED ALWAYS AS (tickets.to_bool(raw->>'is_actionable')) STORED,
                bucket             text GENERATED ALWAYS AS (raw->>'bucket') STORED,
                raw_status         text GENERATED ALWAYS AS (raw->>'raw_status') STORED,
                region             text GENERATED ALWAYS AS (raw->>'region') STORED,
                cluster            text GENERATED ALWAYS AS (raw->>'cluster') STORED,
                location           text GENERATED ALWAYS AS (raw->>'location') STORED,
                customer_id        text GENERATED ALWAYS AS (raw->>'customer_id') STORED,
                summary            text GENERATED ALWAYS AS (raw->>'summary') STORED,
                category           text GENERATED ALWAYS AS (raw->>'category') STORED,
                priority           text GENERATED ALWAYS AS (raw->>'priority') STORED,
                assigned_team      text GENERATED ALWAYS AS (raw->>'assigned_team') STORED,
                owner              text GENERATED ALWAYS AS (raw->>'owner') STORED,
                created_at_service timestamptz GENERATED ALWAYS AS (tickets.eat_ts(raw->>'created_at_service')) STORED,
                closed_at          timestamptz GENERATED ALWAYS AS (tickets.eat_ts(raw->>'closed_at')) STORED,
                sla_status         text GENERATED ALWAYS AS (raw->>'sla_status') STORED,
                mttr               numeric GENERATED ALWAYS AS (tickets.to_numeric(raw->>'mttr')) STORED,
                created_at         timestamptz GENERATED ALWAYS AS (tickets.eat_ts(raw->>'created_at')) STORED,
                updated_at         timestamptz GENERATED ALWAYS AS (tickets.eat_ts(raw->>'updated_at')) STORED,
                first_seen_at      timestamptz GENERATED ALWAYS AS (tickets.eat_ts(raw->>'first_seen_at')) STORED,
                last_seen_at       timestamptz GENERATED ALWAYS AS (tickets.eat_ts(raw->>'last_seen_at')) STORED,
                latitude           numeric GENERATED ALWAYS AS (tickets.to_numeric(raw->>'latitude')) STORED,
                longitude          numeric GENERATED ALWAYS AS (tickets.to_numeric(raw->>'longitude')) STORED,
                -- Filled by the geocoding step; null geometry with null precision until then.
                geom               geometry(Point, 4326),
                geom_precision     text CHECK (geom_precision IN ('plus_code', 'location', 'cluster')),
                geocoded_at        timestamptz
            )$ddl$, ds);
        -- The map's queries: open tickets by cluster, and by SLA clock.
        EXECUTE format('CREATE INDEX IF NOT EXISTS %1$I ON tickets.%2$I (region, cluster) WHERE bucket = ''pending''',
                       ds || '_open_cluster_idx', ds);
        EXECUTE format('CREATE INDEX IF NOT EXISTS %1$I ON tickets.%2$I ((coalesce(created_at_service, first_seen_at))) WHERE bucket = ''pending''',
                       ds || '_open_sla_clock_idx', ds);
        EXECUTE format('CREATE INDEX IF NOT EXISTS %1$I ON tickets.%2$I USING gist (geom)',
                       ds || '_geom_idx', ds);
    END LOOP;
END
$$;

-- Per dataset: the watermark (metadata->>'source_max_key'), last run and freshness.
CREATE TABLE IF NOT EXISTS tickets.import_meta (
    dataset      text PRIMARY KEY,
    metadata     jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_run_at  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tickets.import_meta (dataset) VALUES ('inc'), ('crq') ON CONFLICT DO NOTHING;

-- The ledger: one row per change file applied, committed with the file's rows.
CREATE TABLE IF NOT EXISTS tickets.applied_files (
    dataset          text NOT NULL,
    source_key       text NOT NULL,          -- canonical key under changes/
    file_ts          timestamptz NOT NULL,   -- from the file name, EAT
    etag             text,
    size_bytes       bigint NOT NULL,
    rows_read        integer NOT NULL,
    rows_staged      integer NOT NULL,
    dropped_sentinel integer NOT NULL,
    dropped_alarm    integer NOT NULL,
    dropped_invalid  integer NOT NULL,
    duplicates       integer NOT NULL,
    inserted         integer NOT NULL,
    updated          integer NOT NULL,
    unchanged        integer NOT NULL,
    stale            integer NOT NULL,
    history_rows     integer NOT NULL,
    late             boolean NOT NULL,
    applied_at       timestamptz NOT NULL DEFAULT now(),
    replayed_count   integer NOT NULL DEFAULT 0,
    last_replayed_at timestamptz,
    PRIMARY KEY (dataset, source_key)
);
CREATE INDEX IF NOT EXISTS applied_files_ts_idx ON tickets.applied_files (dataset, file_ts);

-- INC transitions: one row per ticket per file where status, bucket, team or owner
-- changed (the first sighting included). Unique, so a replay adds nothing.
CREATE TABLE IF NOT EXISTS tickets.inc_history (
    ticket_id          text NOT NULL,
    file_ts            timestamptz NOT NULL,
    source_key         text NOT NULL,
    raw_status         text,
    bucket             text,
    assigned_team      text,
    owner              text,
    closed_at          timestamptz,
    prev_raw_status    text,
    prev_bucket        text,
    prev_assigned_team text,
    prev_owner         text,
    recorded_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, file_ts)
);
