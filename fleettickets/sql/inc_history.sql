-- INC post-apply hook: one history row per ticket per file where status, bucket, assigned
-- team or owner changed from the previous file that carried the ticket (a first sighting
-- counts as a change). History is derived from tickets.inc_observations (every file that
-- carried the ticket), so it equals an in-order replay whatever order files arrive in.
-- Statements run one by one; the last one's row count is the history rows written.
-- Late tickets (a newer file carried them already, so the upsert left them alone and their
-- history after this file's date must be derived again) are found by each statement that
-- needs them: no temp tables, which on a 10x baseline cost more than the rows (1.5 s). Only a
-- ticket the upsert left alone can be late: the maybe_late parameter is false when it wrote
-- every ticket of the file (a baseline, most deltas), and the planner then drops the lookups.

-- 1. This file's observation of each of its tickets.
INSERT INTO tickets.inc_observations
    (ticket_id, file_ts, source_key, raw_status, bucket, assigned_team, owner, closed_at)
SELECT ticket_id, %(file_ts)s, %(source_key)s, raw->>'raw_status', raw->>'bucket',
       raw->>'assigned_team', raw->>'owner', raw->>'closed_at'
FROM pg_temp.src
ON CONFLICT (ticket_id, file_ts) DO NOTHING;

-- 2. Late tickets' rows from this date on that their replay no longer gives (a row may
--    vanish or change its previous state).
WITH late AS (
    SELECT s.ticket_id FROM pg_temp.src s JOIN tickets.inc t USING (ticket_id)
    WHERE %(maybe_late)s AND t.file_ts > %(file_ts)s
),
replayed AS MATERIALIZED (
    SELECT * FROM tickets.inc_history_replayed(ARRAY(SELECT ticket_id FROM late), %(file_ts)s)
)
DELETE FROM tickets.inc_history h
USING late l
WHERE h.ticket_id = l.ticket_id
  AND h.file_ts >= %(file_ts)s
  AND NOT EXISTS (
      SELECT 1 FROM replayed d
      WHERE (d.ticket_id, d.file_ts, d.source_key, d.raw_status, d.bucket, d.assigned_team, d.owner,
             d.closed_at, d.prev_raw_status, d.prev_bucket, d.prev_assigned_team, d.prev_owner)
            IS NOT DISTINCT FROM
            (h.ticket_id, h.file_ts, h.source_key, h.raw_status, h.bucket, h.assigned_team, h.owner,
             h.closed_at, h.prev_raw_status, h.prev_bucket, h.prev_assigned_team, h.prev_owner));

-- 3. The history rows this file's tickets should have from its date on, where missing (unique,
--    so a replay adds nothing). In order (the common case) the previous state is the row the
--    upsert replaced; late tickets replay their observations.
INSERT INTO tickets.inc_history (
    ticket_id, file_ts, source_key,
    raw_status, bucket, assigned_team, owner, closed_at,
    prev_raw_status, prev_bucket, prev_assigned_team, prev_owner
)
SELECT a.ticket_id, %(file_ts)s::timestamptz, %(source_key)s::text,
       s.raw->>'raw_status', s.raw->>'bucket', s.raw->>'assigned_team', s.raw->>'owner',
       tickets.eat_ts(s.raw->>'closed_at'),
       a.old_raw->>'raw_status', a.old_raw->>'bucket', a.old_raw->>'assigned_team', a.old_raw->>'owner'
FROM pg_temp.applied a
JOIN pg_temp.src s USING (ticket_id)
WHERE a.changed
  AND (a.inserted
       OR (s.raw->>'raw_status', s.raw->>'bucket', s.raw->>'assigned_team', s.raw->>'owner')
          IS DISTINCT FROM
          (a.old_raw->>'raw_status', a.old_raw->>'bucket', a.old_raw->>'assigned_team', a.old_raw->>'owner'))
UNION ALL
SELECT * FROM tickets.inc_history_replayed(
    ARRAY(SELECT s.ticket_id FROM pg_temp.src s JOIN tickets.inc t USING (ticket_id)
          WHERE %(maybe_late)s AND t.file_ts > %(file_ts)s),
    %(file_ts)s)
ON CONFLICT (ticket_id, file_ts) DO NOTHING;
