-- The plain-SQL floor that also keeps INC history (bench/sql/floor.sql plus what the system
-- must write for every file: an observation of each of its tickets, and a history row where
-- status, bucket, assigned team or owner changed, a first sighting included). Files come in
-- order here, so the previous state is the table's row; one statement, whose CTEs all read
-- the table before the upsert. The same template placeholders and psql variables as floor.sql.
BEGIN;
CREATE TEMP TABLE raw_rows (seq bigint GENERATED ALWAYS AS IDENTITY, {typed}) ON COMMIT DROP;
\copy raw_rows ({columns}) FROM '{path}' WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')
WITH s AS MATERIALIZED (
    SELECT DISTINCT ON (btrim(r.ticket_id)) btrim(r.ticket_id) AS ticket_id, jsonb_build_object({pairs}) AS raw
    FROM raw_rows r
    WHERE btrim(r.ticket_id) <> ''
      AND btrim(r.ticket_id) NOT LIKE (:'sentinel' || '%')
      AND lower(btrim(r.is_alarm)) IS DISTINCT FROM 'true'
    ORDER BY btrim(r.ticket_id), r.seq DESC
),
observed AS (
    INSERT INTO bench_floor_history.inc_observations
        (ticket_id, file_ts, source_key, raw_status, bucket, assigned_team, owner, closed_at)
    SELECT ticket_id, :'file_ts'::timestamptz, :'source_key', raw->>'raw_status', raw->>'bucket',
           raw->>'assigned_team', raw->>'owner', raw->>'closed_at'
    FROM s
),
changed AS (
    INSERT INTO bench_floor_history.inc_history
        (ticket_id, file_ts, source_key, raw_status, bucket, assigned_team, owner, closed_at,
         prev_raw_status, prev_bucket, prev_assigned_team, prev_owner)
    SELECT s.ticket_id, :'file_ts'::timestamptz, :'source_key',
           s.raw->>'raw_status', s.raw->>'bucket', s.raw->>'assigned_team', s.raw->>'owner',
           tickets.eat_ts(s.raw->>'closed_at'),
           t.raw->>'raw_status', t.raw->>'bucket', t.raw->>'assigned_team', t.raw->>'owner'
    FROM s LEFT JOIN bench_floor_history.inc t USING (ticket_id)
    WHERE t.ticket_id IS NULL
       OR (s.raw->>'raw_status', s.raw->>'bucket', s.raw->>'assigned_team', s.raw->>'owner')
          IS DISTINCT FROM (t.raw->>'raw_status', t.raw->>'bucket', t.raw->>'assigned_team', t.raw->>'owner')
)
INSERT INTO bench_floor_history.inc (ticket_id, raw, source_key, file_ts)
SELECT ticket_id, raw, :'source_key', :'file_ts'::timestamptz FROM s
ON CONFLICT (ticket_id) DO UPDATE
    SET raw = excluded.raw, source_key = excluded.source_key, file_ts = excluded.file_ts,
        last_loaded_at = now();
COMMIT;
