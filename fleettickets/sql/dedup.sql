-- The file's tickets: the last occurrence of a ticket in the file wins (a later row of the
-- export is newer). Every later statement of the file's transaction reads this table.
-- <cleaned> is cleaned_rows.sql; <object> builds the stored jsonb from its kept columns.
CREATE TEMP TABLE src ON COMMIT DROP AS
SELECT DISTINCT ON (c.key) c.key AS ticket_id, {object} AS raw
FROM ({cleaned}) c
WHERE c.kept
ORDER BY c.key, c.seq DESC;
