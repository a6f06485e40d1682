-- Take an applied file out of the accepted stream (quarantine of a file in processed/).
-- The tickets whose current state came from it are removed and rebuilt by a full replay of
-- the remaining files (import_meta's rebuild_required makes the next run do that replay).
-- Statements run one by one.

-- 1. No longer accepted.
DELETE FROM tickets.applied_files WHERE dataset = %(dataset)s AND source_key = %(source_key)s;

-- 2. Tickets the file carried last: their state is rebuilt by the replay.
CREATE TEMP TABLE unapplied ON COMMIT DROP AS
SELECT ticket_id FROM {table} WHERE file_ts = %(file_ts)s;

DELETE FROM {table} WHERE file_ts = %(file_ts)s;

-- 3. The watermark is the newest file still accepted; the replay is owed.
UPDATE tickets.import_meta
SET metadata = metadata
        || jsonb_build_object(
               'source_max_key', (SELECT max(source_key) FROM tickets.applied_files WHERE dataset = %(dataset)s),
               'source_max_ts', (SELECT max(file_ts) FROM tickets.applied_files WHERE dataset = %(dataset)s),
               'rebuild_required', true),
    updated_at = now()
WHERE dataset = %(dataset)s;
