-- INC post-apply hook: one history row per ticket per file where status, bucket, assigned
-- team or owner changed from the previous file that carried the ticket (a first sighting
-- counts as a change). History is derived from tickets.inc_observations (every file that
-- carried the ticket), so it equals an in-order replay whatever order files arrive in.
-- Statements run one by one; the last one's row count is the history rows written.

-- 1. This file's observation of each of its tickets.
INSERT INTO tickets.inc_observations
    (ticket_id, file_ts, source_key, raw_status, bucket, assigned_team, owner, closed_at)
SELECT ticket_id, %(file_ts)s, %(source_key)s, raw->>'raw_status', raw->>'bucket',
       raw->>'assigned_team', raw->>'owner', raw->>'closed_at'
FROM pg_temp.src
ON CONFLICT (ticket_id, file_ts) DO NOTHING;

-- 2. Late tickets: a newer file carried them already, so the history after this file's
--    date must be derived again (a row may appear, vanish or change its previous state).
CREATE TEMP TABLE late ON COMMIT DROP AS
SELECT s.ticket_id
FROM pg_temp.src s
JOIN tickets.inc t USING (ticket_id)
WHERE t.file_ts > %(file_ts)s;

-- 3. The history rows this file's tickets should have from its date on. In order (the
--    common case) the previous state is the row the upsert replaced; late tickets replay
--    their observations.
CREATE TEMP TABLE desired_history ON COMMIT DROP AS
SELECT a.ticket_id, %(file_ts)s::timestamptz AS file_ts, %(source_key)s::text AS source_key,
       s.raw->>'raw_status' AS raw_status, s.raw->>'bucket' AS bucket,
       s.raw->>'assigned_team' AS assigned_team, s.raw->>'owner' AS owner,
       tickets.eat_ts(s.raw->>'closed_at') AS closed_at,
       a.old_raw->>'raw_status' AS prev_raw_status, a.old_raw->>'bucket' AS prev_bucket,
       a.old_raw->>'assigned_team' AS prev_assigned_team, a.old_raw->>'owner' AS prev_owner
FROM pg_temp.applied a
JOIN pg_temp.src s USING (ticket_id)
WHERE a.changed
  AND (a.inserted
       OR (s.raw->>'raw_status', s.raw->>'bucket', s.raw->>'assigned_team', s.raw->>'owner')
          IS DISTINCT FROM
          (a.old_raw->>'raw_status', a.old_raw->>'bucket', a.old_raw->>'assigned_team', a.old_raw->>'owner'))
UNION ALL
SELECT * FROM tickets.inc_history_replayed(ARRAY(SELECT ticket_id FROM pg_temp.late), %(file_ts)s);

-- 4. Late tickets' rows from this date on that the replay no longer gives.
DELETE FROM tickets.inc_history h
USING pg_temp.late l
WHERE h.ticket_id = l.ticket_id
  AND h.file_ts >= %(file_ts)s
  AND NOT EXISTS (
      SELECT 1 FROM pg_temp.desired_history d
      WHERE (d.ticket_id, d.file_ts, d.source_key, d.raw_status, d.bucket, d.assigned_team, d.owner,
             d.closed_at, d.prev_raw_status, d.prev_bucket, d.prev_assigned_team, d.prev_owner)
            IS NOT DISTINCT FROM
            (h.ticket_id, h.file_ts, h.source_key, h.raw_status, h.bucket, h.assigned_team, h.owner,
             h.closed_at, h.prev_raw_status, h.prev_bucket, h.prev_assigned_team, h.prev_owner));

-- 5. The rows still missing (unique, so a replay adds nothing).
INSERT INTO tickets.inc_history (
    ticket_id, file_ts, source_key,
    raw_status, bucket, assigned_team, owner, closed_at,
    prev_raw_status, prev_bucket, prev_assigned_team, prev_owner
)
SELECT ticket_id, file_ts, source_key, raw_status, bucket, assigned_team, owner, closed_at,
       prev_raw_status, prev_bucket, prev_assigned_team, prev_owner
FROM pg_temp.desired_history
ON CONFLICT (ticket_id, file_ts) DO NOTHING;
