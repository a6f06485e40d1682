-- One accepted file's identity (content hash, ETag), if the stream accepted it.
SELECT content_sha256, etag FROM tickets.applied_files
WHERE dataset = %(dataset)s AND source_key = %(source_key)s;
