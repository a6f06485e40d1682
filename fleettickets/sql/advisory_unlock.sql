-- Release a session advisory lock.
SELECT pg_advisory_unlock(%(key)s);
