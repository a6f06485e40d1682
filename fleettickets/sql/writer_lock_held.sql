-- Does the session that took a dataset's writer lock (a bigint advisory lock: high half in
-- classid, low half in objid) still hold it?
SELECT EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND granted
      AND pid = %(pid)s
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND classid::bigint = (%(key)s::bigint >> 32)
      AND objid::bigint = (%(key)s::bigint & 4294967295)
      AND objsubid = 1
);
