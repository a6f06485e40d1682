-- make demo starts each time from a fresh generated stream (its file names are "now"), so it
-- empties what a previous demo loaded in the local demo database. Never run this elsewhere.
TRUNCATE tickets.inc, tickets.crq, tickets.inc_history, tickets.inc_observations, tickets.applied_files;  -- geocoder caches stay
UPDATE tickets.import_meta SET metadata = '{}', last_run_at = NULL, updated_at = now();
