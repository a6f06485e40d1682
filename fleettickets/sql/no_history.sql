-- The history hook of a dataset that keeps no history (CTEs composed into upsert.sql).
history_rows AS (SELECT WHERE false)
