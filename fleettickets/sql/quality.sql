-- One pass over a file's records: what the rules dropped, and the data-quality counts over
-- the kept rows (before dedup). The newest updated_at is the text maximum (ISO text sorts as
-- time), parsed once. <cleaned> is cleaned_rows.sql.
SELECT count(*)                                                       AS rows_read,
       count(*) FILTER (WHERE c.sentinel)                             AS dropped_sentinel,
       count(*) FILTER (WHERE c.alarm)                                AS dropped_alarm,
       count(*) FILTER (WHERE c.invalid)                              AS dropped_invalid,
       count(*) FILTER (WHERE c.kept)                                 AS rows_staged,
       coalesce(sum(cardinality(c.nul_cells)) FILTER (WHERE c.kept), 0)::int AS nul_cells,
       (array_agg(c.seq ORDER BY c.seq) FILTER (WHERE c.invalid))[1:5] AS invalid_rows,
       count(*) FILTER (WHERE c.kept)                                 AS kept_rows,
       count(*) FILTER (WHERE c.kept AND c.assigned_team IS NULL)     AS null_assigned_team,
       count(*) FILTER (WHERE c.kept AND c.created_at_service IS NULL) AS null_created_at_service,
       count(*) FILTER (WHERE c.kept AND c.owner IS NULL)             AS null_owner,
       count(*) FILTER (WHERE c.kept AND c.cluster IS NULL)           AS null_cluster,
       tickets.eat_ts(max(translate(c.updated_at, 'T', ' '))
                      FILTER (WHERE c.kept AND c.updated_at ~ '^\d{{4}}-')) AS newest_updated_at
FROM ({cleaned}) c;
