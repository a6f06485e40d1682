-- INC post-apply hook: one history row per ticket per file where status, bucket,
-- assigned team or owner changed (a ticket's first sighting counts as a change).
INSERT INTO tickets.inc_history (
    ticket_id, file_ts, source_key,
    raw_status, bucket, assigned_team, owner, closed_at,
    prev_raw_status, prev_bucket, prev_assigned_team, prev_owner
)
SELECT a.ticket_id, %(file_ts)s, %(source_key)s,
       a.new_raw->>'raw_status', a.new_raw->>'bucket', a.new_raw->>'assigned_team',
       a.new_raw->>'owner', tickets.eat_ts(a.new_raw->>'closed_at'),
       a.old_raw->>'raw_status', a.old_raw->>'bucket', a.old_raw->>'assigned_team',
       a.old_raw->>'owner'
FROM pg_temp.applied a
WHERE a.old_raw IS NULL
   OR (a.new_raw->>'raw_status', a.new_raw->>'bucket', a.new_raw->>'assigned_team', a.new_raw->>'owner')
      IS DISTINCT FROM
      (a.old_raw->>'raw_status', a.old_raw->>'bucket', a.old_raw->>'assigned_team', a.old_raw->>'owner')
ON CONFLICT (ticket_id, file_ts) DO NOTHING;
