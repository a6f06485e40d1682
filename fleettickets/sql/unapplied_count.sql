-- How many tickets the un-apply removed (they come back with the replay).
SELECT count(*) FROM pg_temp.unapplied;
