-- Take a session advisory lock if free; says whether it was taken.
SELECT pg_try_advisory_lock(%(key)s);
