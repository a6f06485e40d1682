-- INC post-apply hook: one history row per ticket per file where status, bucket,
-- assigned team or owner changed (a ticket's first sighting counts as a change).
-- pg_temp.applied holds what this file wrote, with the state it replaced.
INSERT INTO tickets.inc_history (
    ticket_id, file_ts, source_key,
    raw_status, bucket, assigned_team, owner, closed_at,
    prev_raw_status, prev_bucket, prev_assigned_team, prev_owner
)
SELECT a.ticket_id, %(file_ts)s, %(source_key)s,
       t.raw_status, t.bucket, t.assigned_team, t.owner, t.closed_at,
       a.old_raw->>'raw_status', a.old_raw->>'bucket', a.old_raw->>'assigned_team', a.old_raw->>'owner'
FROM pg_temp.applied a
JOIN tickets.inc t USING (ticket_id)
WHERE a.inserted
   OR (t.raw_status, t.bucket, t.assigned_team, t.owner)
      IS DISTINCT FROM
      (a.old_raw->>'raw_status', a.old_raw->>'bucket', a.old_raw->>'assigned_team', a.old_raw->>'owner')
ON CONFLICT (ticket_id, file_ts) DO NOTHING;
