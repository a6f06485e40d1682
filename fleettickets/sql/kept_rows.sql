-- A file's kept rows as they would be stored, in file order (before the last occurrence of a
-- ticket wins): what `preview_file` shows. <cleaned> is cleaned_rows.sql.
SELECT {object} FROM ({cleaned}) c WHERE c.kept ORDER BY c.seq;
