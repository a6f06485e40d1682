-- INC, after the upsert, only when it left some of the file's tickets alone: the late ones (a
-- newer file carried them already) get their history from this file's date on derived again
-- from their observations (this file's included, written by inc_history.sql). Statements run
-- one by one; the last one's row count adds to the history rows written.

-- 1. Late tickets' rows from this date on that their replay no longer gives (a row may
--    vanish or change its previous state).
WITH late AS (
    SELECT s.ticket_id FROM pg_temp.src s JOIN tickets.inc t USING (ticket_id)
    WHERE t.file_ts > %(file_ts)s
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

-- 2. The history rows late tickets should have from this date on, where missing.
INSERT INTO tickets.inc_history (
    ticket_id, file_ts, source_key,
    raw_status, bucket, assigned_team, owner, closed_at,
    prev_raw_status, prev_bucket, prev_assigned_team, prev_owner
)
SELECT * FROM tickets.inc_history_replayed(
    ARRAY(SELECT s.ticket_id FROM pg_temp.src s JOIN tickets.inc t USING (ticket_id)
          WHERE t.file_ts > %(file_ts)s),
    %(file_ts)s)
ON CONFLICT (ticket_id, file_ts) DO NOTHING;
