-- One dataset's line in `fleettickets status`.
SELECT m.metadata->>'source_max_key'                          AS watermark,
       m.last_run_at,
       m.metadata->'last_run'->>'status'                      AS last_run_status,
       coalesce((m.metadata->>'rebuild_required')::boolean, false) AS rebuild_required,
       (SELECT count(*) FROM tickets.applied_files a WHERE a.dataset = m.dataset) AS files_applied,
       t.rows, t.open, t.geocoded
FROM tickets.import_meta m
CROSS JOIN (
    SELECT count(*) AS rows,
           count(*) FILTER (WHERE t.bucket = 'pending') AS open,
           jsonb_build_object(
               'plus_code', count(*) FILTER (WHERE p.geom_precision = 'plus_code'),
               'location',  count(*) FILTER (WHERE p.geom_precision = 'location'),
               'cluster',   count(*) FILTER (WHERE p.geom_precision = 'cluster'),
               'none',      count(*) FILTER (WHERE p.geom_precision IS NULL)) AS geocoded
    FROM {table} t
    LEFT JOIN {placement} p ON p.ticket_id = t.ticket_id  -- where geocoding placed it (migrations/09)
) t
WHERE m.dataset = %(dataset)s;
