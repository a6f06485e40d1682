-- INC part of taking an applied file out of the stream (after unapply_file.sql): its
-- observations go; history is derived again from the remaining observations for the
-- tickets it carried (the rebuilt tickets' history is written again by the replay).
-- Statements run one by one.
CREATE TEMP TABLE carried ON COMMIT DROP AS
SELECT ticket_id FROM tickets.inc_observations WHERE file_ts = %(file_ts)s;

DELETE FROM tickets.inc_observations WHERE file_ts = %(file_ts)s;

DELETE FROM tickets.inc_history h USING pg_temp.carried c WHERE h.ticket_id = c.ticket_id;

DELETE FROM tickets.inc_observations o USING pg_temp.unapplied u WHERE o.ticket_id = u.ticket_id;

INSERT INTO tickets.inc_history (
    ticket_id, file_ts, source_key,
    raw_status, bucket, assigned_team, owner, closed_at,
    prev_raw_status, prev_bucket, prev_assigned_team, prev_owner
)
SELECT * FROM tickets.inc_history_replayed(ARRAY(SELECT ticket_id FROM pg_temp.carried), '-infinity');
