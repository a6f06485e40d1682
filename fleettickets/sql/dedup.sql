-- The file's tickets: the last occurrence of a ticket in the file wins (a later row of the
-- export is newer). Every later statement of the file's transaction reads this table.
CREATE TEMP TABLE src ON COMMIT DROP AS
SELECT DISTINCT ON (raw->>'ticket_id') raw->>'ticket_id' AS ticket_id, raw
FROM pg_temp.staged
ORDER BY raw->>'ticket_id', seq DESC;
