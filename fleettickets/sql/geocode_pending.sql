-- Whether a placing pass has anything to take in (migrations/08): a ticket whose content it has
-- not read (each table's *_geo_changed_idx; the caller turns sequential scans off, as
-- tickets.geo_place does, since the planner cannot know how few rows that index holds), a cache
-- answer queued, a rebuild or a new gazetteer owed, or a miss expired since the last pass.
SELECT EXISTS (SELECT 1 FROM tickets.inc t WHERE (t.geo_seen).loaded_at IS DISTINCT FROM t.last_loaded_at)
    OR EXISTS (SELECT 1 FROM tickets.crq t WHERE (t.geo_seen).loaded_at IS DISTINCT FROM t.last_loaded_at)
    OR EXISTS (SELECT 1 FROM tickets.geo_changed_keys)
    OR (SELECT s.rebuild OR s.gazetteer_checksum IS DISTINCT FROM (SELECT checksum FROM tickets.gazetteer_meta)
        FROM tickets.geo_state s)
    OR EXISTS (SELECT 1 FROM tickets.geo_locations gl, tickets.geo_state s
               WHERE gl.status <> 'ok' AND gl.expires_at > s.expired_until AND gl.expires_at <= now());
