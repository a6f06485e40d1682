-- Apply one file. A row is written when this file is newer than the file that last carried
-- the ticket: its content if it changed, and in any case the file that carried it, so that a
-- late file dated between the two can never win (never backwards). A file of the same date
-- (a replay) rewrites nothing. `written` is what the upsert wrote, its state as written and as
-- it was (this statement reads {table} at its snapshot, i.e. before the upsert); the dataset's
-- history hook <history> (inc_history.sql, or no_history.sql) adds its CTEs over it in the same
-- statement, and names the rows it wrote `history_rows`: one statement, no temp table
-- between them. Returns the file's distinct tickets, how many were inserted, updated (content
-- changed) and carried (newer file, same content), and the history rows written.
WITH upserted AS (
    INSERT INTO {table} AS cur (ticket_id, raw, source_key, file_ts)
    SELECT ticket_id, raw, %(source_key)s, %(file_ts)s FROM pg_temp.src
    ON CONFLICT (ticket_id) DO UPDATE
        SET raw = excluded.raw,
            source_key = excluded.source_key,
            file_ts = excluded.file_ts,
            -- last_loaded_at is when the content last changed (the map's "updated since").
            last_loaded_at = CASE WHEN cur.raw IS DISTINCT FROM excluded.raw THEN now()
                                  ELSE cur.last_loaded_at END
        WHERE excluded.file_ts > cur.file_ts
           OR (excluded.file_ts = cur.file_ts AND cur.raw IS DISTINCT FROM excluded.raw)
    RETURNING cur.ticket_id, (cur.xmax = 0) AS inserted,
              -- the state a history keeps, as written (typed columns generated from raw)
              cur.raw_status, cur.bucket, cur.assigned_team, cur.owner, cur.closed_at
),
written AS MATERIALIZED (
    SELECT u.*, u.inserted OR old.raw IS DISTINCT FROM s.raw AS changed,
           -- and as it was (null when inserted)
           old.raw_status AS prev_raw_status, old.bucket AS prev_bucket,
           old.assigned_team AS prev_assigned_team, old.owner AS prev_owner
    FROM upserted u
    JOIN pg_temp.src s USING (ticket_id)
    LEFT JOIN {table} old ON NOT u.inserted AND old.ticket_id = u.ticket_id
),
{history}
SELECT (SELECT count(*) FROM pg_temp.src),
       count(*) FILTER (WHERE inserted),
       count(*) FILTER (WHERE changed AND NOT inserted),
       count(*) FILTER (WHERE NOT changed),
       (SELECT count(*) FROM history_rows)
FROM written;
