-- The watermark only moves forward: a late file or a replay never lowers it.
UPDATE tickets.import_meta
SET metadata = metadata || jsonb_build_object(
        'source_max_key', %(source_key)s::text,
        'source_max_ts', %(file_ts)s::timestamptz),
    updated_at = now()
WHERE dataset = %(dataset)s
  AND coalesce(metadata->>'source_max_key', '') < %(source_key)s;
