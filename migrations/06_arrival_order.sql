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
