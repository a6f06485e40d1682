-- INC's history hook: CTEs composed into upsert.sql, over `written` (what the upsert wrote:
-- the state as written and as it was, from the tables' typed columns, which are generated from
-- raw exactly as history keeps them) and pg_temp.src (the file's tickets). One history row per
-- ticket per file where status, bucket, assigned team or owner changed from the previous
-- file that carried the ticket (a first sighting counts as a change). History is derived
-- from tickets.inc_observations (every file that carried the ticket), so it equals an
-- in-order replay whatever order files arrive in: in order (the common case) the previous
-- state is the row the upsert replaced; a late file's tickets (a newer file carried them,
-- so the upsert left them alone) are derived again by inc_history_late.sql, after this
-- statement. Unique keys, so a replay adds nothing.

-- This file's observation of each of its tickets.
observed AS (
    INSERT INTO tickets.inc_observations
        (ticket_id, file_ts, source_key, raw_status, bucket, assigned_team, owner, closed_at)
    SELECT ticket_id, %(file_ts)s, %(source_key)s, raw->>'raw_status', raw->>'bucket',
           raw->>'assigned_team', raw->>'owner', raw->>'closed_at'
    FROM pg_temp.src
    ON CONFLICT (ticket_id, file_ts) DO NOTHING
),
-- The history rows of the tickets the upsert wrote.
history_rows AS (
    INSERT INTO tickets.inc_history (
        ticket_id, file_ts, source_key,
        raw_status, bucket, assigned_team, owner, closed_at,
        prev_raw_status, prev_bucket, prev_assigned_team, prev_owner
    )
    SELECT ticket_id, %(file_ts)s::timestamptz, %(source_key)s::text,
           raw_status, bucket, assigned_team, owner, closed_at,
           prev_raw_status, prev_bucket, prev_assigned_team, prev_owner
    FROM written
    WHERE changed
      AND (inserted
           OR (raw_status, bucket, assigned_team, owner)
              IS DISTINCT FROM (prev_raw_status, prev_bucket, prev_assigned_team, prev_owner))
    ON CONFLICT (ticket_id, file_ts) DO NOTHING
    RETURNING 1
)
