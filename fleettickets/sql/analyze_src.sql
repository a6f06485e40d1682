-- Statistics for the file's tickets before the statements that join them to the table: a
-- temp table has none, and the planner's guess (millions of rows) reads the whole ticket table
-- for a 400-row delta instead of probing its primary key.
ANALYZE pg_temp.src (ticket_id);
