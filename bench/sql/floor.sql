-- The plain-SQL floor for one change file: one psql session, one transaction, \copy of the
-- raw CSV into a temp table, then one upsert with the contract's cleaning rules.
-- A template: {typed}, {columns}, {pairs} come from the file's checked contract header,
-- {path} is the quoted file path (psql does not interpolate variables in \copy); values
-- reach the server only through COPY and the psql variables :'source_key', :'file_ts'
-- and :'sentinel'.
BEGIN;
CREATE TEMP TABLE raw_rows (seq bigint GENERATED ALWAYS AS IDENTITY, {typed}) ON COMMIT DROP;
\copy raw_rows ({columns}) FROM '{path}' WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')
INSERT INTO bench_floor.inc (ticket_id, raw, source_key, file_ts)
SELECT DISTINCT ON (btrim(r.ticket_id)) btrim(r.ticket_id), jsonb_build_object({pairs}),
       :'source_key', :'file_ts'::timestamptz
FROM raw_rows r
WHERE btrim(r.ticket_id) <> ''
  AND btrim(r.ticket_id) NOT LIKE (:'sentinel' || '%')
  AND lower(btrim(r.is_alarm)) IS DISTINCT FROM 'true'
ORDER BY btrim(r.ticket_id), r.seq DESC
ON CONFLICT (ticket_id) DO UPDATE
    SET raw = excluded.raw, source_key = excluded.source_key, file_ts = excluded.file_ts,
        last_loaded_at = now();
COMMIT;
