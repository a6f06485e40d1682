-- Whatever the arrival order, a table and INC history equal an in-order replay of the
-- accepted files (docs/design.md, "Decided in the second round").

-- A file's identity is its content: the SHA-256 of the bytes applied (null for files
-- applied before this migration, whose identity was only their ETag).
ALTER TABLE tickets.applied_files ADD COLUMN IF NOT EXISTS content_sha256 text;

-- Every file that carried an INC ticket, with the tracked state it carried. INC history is
-- derived from this sequence, so a late file (dated between two applied ones) re-derives
-- the history of its tickets instead of appending to it. Narrow on purpose: only what
-- history tracks, one row per ticket per file.
CREATE TABLE IF NOT EXISTS tickets.inc_observations (
    ticket_id     text NOT NULL,
    file_ts       timestamptz NOT NULL,
    source_key    text NOT NULL,
    raw_status    text,
    bucket        text,
    assigned_team text,
    owner         text,
    closed_at     text,  -- the raw text; history types it with tickets.eat_ts
    PRIMARY KEY (ticket_id, file_ts)
);

-- Backfill what earlier runs knew: each history row is an observation, and so is each
-- ticket's current row (the newest file that set it).
INSERT INTO tickets.inc_observations
    (ticket_id, file_ts, source_key, raw_status, bucket, assigned_team, owner, closed_at)
SELECT h.ticket_id, h.file_ts, h.source_key, h.raw_status, h.bucket, h.assigned_team, h.owner,
       to_char(h.closed_at AT TIME ZONE 'Africa/Nairobi', 'YYYY-MM-DD HH24:MI:SS')
FROM tickets.inc_history h
ON CONFLICT DO NOTHING;
INSERT INTO tickets.inc_observations
    (ticket_id, file_ts, source_key, raw_status, bucket, assigned_team, owner, closed_at)
SELECT t.ticket_id, t.file_ts, t.source_key, t.raw->>'raw_status', t.raw->>'bucket',
       t.raw->>'assigned_team', t.raw->>'owner', t.raw->>'closed_at'
FROM tickets.inc t
ON CONFLICT DO NOTHING;

GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON tickets.inc_observations TO fleettickets_loader;

-- INC history as an in-order replay of the observations of some tickets, from a file date on:
-- a row wherever status, bucket, team or owner changed from the previous file that carried
-- the ticket (a first sighting counts). The one definition, used by the apply hook for late
-- files and when an applied file leaves the stream.
CREATE OR REPLACE FUNCTION tickets.inc_history_replayed(p_tickets text[], p_from timestamptz)
RETURNS TABLE (
    ticket_id text, file_ts timestamptz, source_key text,
    raw_status text, bucket text, assigned_team text, owner text, closed_at timestamptz,
    prev_raw_status text, prev_bucket text, prev_assigned_team text, prev_owner text
)
LANGUAGE sql STABLE AS $$
    SELECT ticket_id, file_ts, source_key, raw_status, bucket, assigned_team, owner,
           tickets.eat_ts(closed_at), prev_raw_status, prev_bucket, prev_assigned_team, prev_owner
    FROM (
        SELECT o.*,
               lag(o.file_ts) OVER w AS prev_ts,
               lag(o.raw_status) OVER w AS prev_raw_status, lag(o.bucket) OVER w AS prev_bucket,
               lag(o.assigned_team) OVER w AS prev_assigned_team, lag(o.owner) OVER w AS prev_owner
        FROM tickets.inc_observations o
        WHERE o.ticket_id = ANY (p_tickets)
        WINDOW w AS (PARTITION BY o.ticket_id ORDER BY o.file_ts)
    ) replayed
    WHERE file_ts >= p_from
      AND (prev_ts IS NULL
           OR (raw_status, bucket, assigned_team, owner)
              IS DISTINCT FROM (prev_raw_status, prev_bucket, prev_assigned_team, prev_owner))
$$;
