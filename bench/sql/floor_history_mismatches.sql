-- The floor that keeps history and ours must agree on INC history, row by row (EXCEPT takes
-- nulls as equal): rows only one side has.
WITH ours AS (
    SELECT ticket_id, file_ts, source_key, raw_status, bucket, assigned_team, owner, closed_at,
           prev_raw_status, prev_bucket, prev_assigned_team, prev_owner
    FROM tickets.inc_history
), floor AS (
    SELECT ticket_id, file_ts, source_key, raw_status, bucket, assigned_team, owner, closed_at,
           prev_raw_status, prev_bucket, prev_assigned_team, prev_owner
    FROM bench_floor_history.inc_history
)
SELECT count(*)
FROM ((SELECT * FROM ours EXCEPT ALL SELECT * FROM floor)
      UNION ALL
      (SELECT * FROM floor EXCEPT ALL SELECT * FROM ours)) only_one_side;
