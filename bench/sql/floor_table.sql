-- The floor's tables: the same generated columns and indexes as tickets.inc, so the floor
-- pays the same write cost as ours. bench_floor_history also has INC's observation and history
-- tables (the same columns and indexes), for the floor that keeps INC history as ours must.
CREATE SCHEMA bench_floor;
CREATE TABLE bench_floor.inc (LIKE tickets.inc INCLUDING ALL);
CREATE SCHEMA bench_floor_history;
CREATE TABLE bench_floor_history.inc (LIKE tickets.inc INCLUDING ALL);
CREATE TABLE bench_floor_history.inc_observations (LIKE tickets.inc_observations INCLUDING ALL);
CREATE TABLE bench_floor_history.inc_history (LIKE tickets.inc_history INCLUDING ALL);
