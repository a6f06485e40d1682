-- A load connection's session, set before its first temp table: a 10x baseline's raw records
-- and its distinct tickets (~300 MB of temp tables) stay in memory instead of spilling to temp
-- files, and the DISTINCT ON sort runs in memory. Allocated only as used; one connection per file.
SET temp_buffers = '512MB';
SET work_mem = '128MB';
