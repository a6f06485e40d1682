-- What applying the file would do to each distinct ticket (the dry run), and after a real
-- apply the split of the rows it did not write: unchanged, or stale (a newer file carried
-- the ticket with other content).
SELECT
    count(*)                                                                  AS distinct_rows,
    count(*) FILTER (WHERE cur.ticket_id IS NULL)                             AS inserted,
    count(*) FILTER (WHERE cur.file_ts <= %(file_ts)s AND cur.raw IS DISTINCT FROM src.raw) AS updated,
    count(*) FILTER (WHERE cur.raw = src.raw)                                 AS unchanged,
    count(*) FILTER (WHERE cur.file_ts > %(file_ts)s AND cur.raw IS DISTINCT FROM src.raw)  AS stale
FROM pg_temp.src
LEFT JOIN {table} cur USING (ticket_id);
