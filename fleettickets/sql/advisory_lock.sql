-- Wait for a session advisory lock (a bigint key from fleettickets.db.lock_key).
SELECT pg_advisory_lock(%(key)s);
