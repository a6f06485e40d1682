-- A dataset's watermark: the newest change file it accepted.
SELECT metadata->>'source_max_key' FROM tickets.import_meta WHERE dataset = %(dataset)s;
