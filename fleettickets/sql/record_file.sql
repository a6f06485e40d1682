-- The ledger row, in the same transaction as the file's rows. A first application
-- must not find the key (a conflict aborts the whole file); a replay counts itself.
INSERT INTO tickets.applied_files (
    dataset, source_key, file_ts, etag, content_sha256, size_bytes, rows_read, rows_staged,
    dropped_sentinel, dropped_alarm, dropped_invalid, duplicates,
    inserted, updated, unchanged, stale, history_rows, late
) VALUES (
    %(dataset)s, %(source_key)s, %(file_ts)s, %(etag)s, %(sha256)s, %(size_bytes)s, %(rows_read)s,
    %(rows_staged)s, %(dropped_sentinel)s, %(dropped_alarm)s, %(dropped_invalid)s, %(duplicates)s,
    %(inserted)s, %(updated)s, %(unchanged)s, %(stale)s, %(history_rows)s, %(late)s
)
ON CONFLICT (dataset, source_key) DO UPDATE
    SET replayed_count = tickets.applied_files.replayed_count + 1,
        last_replayed_at = now(),
        content_sha256 = coalesce(tickets.applied_files.content_sha256, excluded.content_sha256)
    WHERE %(replay)s;
