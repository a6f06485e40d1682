-- The files a dataset's stream has accepted, with the identity of the bytes applied.
SELECT source_key, etag, content_sha256
FROM tickets.applied_files
WHERE dataset = %(dataset)s;
