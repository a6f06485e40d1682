-- Whether a placing pass has anything to take in (migrations/08, 09): a ticket queued by the
-- ticket tables' triggers since the last pass, a cache answer queued, a rebuild or a new
-- gazetteer owed, or a miss expired since the last pass. Reads no ticket table.
SELECT EXISTS (SELECT 1 FROM tickets.geo_changed_tickets)
    OR EXISTS (SELECT 1 FROM tickets.geo_changed_keys)
    OR (SELECT s.rebuild OR s.gazetteer_checksum IS DISTINCT FROM (SELECT checksum FROM tickets.gazetteer_meta)
        FROM tickets.geo_state s)
    OR EXISTS (SELECT 1 FROM tickets.geo_locations gl, tickets.geo_state s
               WHERE gl.status <> 'ok' AND gl.expires_at > s.expired_until AND gl.expires_at <= now());
