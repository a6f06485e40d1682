-- Apply one file: last occurrence of a ticket in the file wins; a row is written only
-- when this file is not older than the row's file and its content changed. What was
-- written, with its previous state, goes to pg_temp.applied for the post-apply hook
-- (this statement reads {table} at its snapshot, i.e. before the upsert). Returns the
-- distinct tickets of the file, and how many were inserted and updated.
WITH src AS MATERIALIZED (
    SELECT DISTINCT ON (raw->>'ticket_id') raw->>'ticket_id' AS ticket_id, raw
    FROM pg_temp.staged
    ORDER BY raw->>'ticket_id', seq DESC
),
upserted AS (
    INSERT INTO {table} AS cur (ticket_id, raw, source_key, file_ts)
    SELECT ticket_id, raw, %(source_key)s, %(file_ts)s FROM src
    ON CONFLICT (ticket_id) DO UPDATE
        SET raw = excluded.raw,
            source_key = excluded.source_key,
            file_ts = excluded.file_ts,
            last_loaded_at = now()
        WHERE excluded.file_ts >= cur.file_ts
          AND cur.raw IS DISTINCT FROM excluded.raw
    RETURNING cur.ticket_id, (cur.xmax = 0) AS inserted
),
recorded AS (
    INSERT INTO pg_temp.applied (ticket_id, inserted, old_raw)
    SELECT u.ticket_id, u.inserted, old.raw
    FROM upserted u
    LEFT JOIN {table} old ON NOT u.inserted AND old.ticket_id = u.ticket_id
    RETURNING inserted
)
SELECT (SELECT count(*) FROM src),
       count(*) FILTER (WHERE inserted),
       count(*) FILTER (WHERE NOT inserted)
FROM recorded;
