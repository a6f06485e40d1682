-- Does the dataset owe a full replay (an applied file was taken out of the stream)?
SELECT coalesce((metadata->>'rebuild_required')::boolean, false)
FROM tickets.import_meta WHERE dataset = %(dataset)s;
