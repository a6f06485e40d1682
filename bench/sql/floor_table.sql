-- The floor's table: the same generated columns and indexes as tickets.inc, so the floor
-- pays the same write cost as ours.
CREATE SCHEMA bench_floor;
CREATE TABLE bench_floor.inc (LIKE tickets.inc INCLUDING ALL);
