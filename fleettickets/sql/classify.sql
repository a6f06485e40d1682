-- What applying the staged file would do to each distinct ticket (dry run, and the
-- unchanged/stale split after a real apply).
WITH src AS (
    SELECT DISTINCT ON (raw->>'ticket_id') raw->>'ticket_id' AS ticket_id, raw
    FROM pg_temp.staged
    ORDER BY raw->>'ticket_id', seq DESC
)
SELECT
    count(*)                                                                  AS distinct_rows,
    count(*) FILTER (WHERE cur.ticket_id IS NULL)                             AS inserted,
    count(*) FILTER (WHERE cur.file_ts <= %(file_ts)s AND cur.raw IS DISTINCT FROM src.raw) AS updated,
    count(*) FILTER (WHERE cur.raw = src.raw)                                 AS unchanged,
    count(*) FILTER (WHERE cur.file_ts > %(file_ts)s AND cur.raw IS DISTINCT FROM src.raw)  AS stale
FROM src
LEFT JOIN {table} cur USING (ticket_id);
