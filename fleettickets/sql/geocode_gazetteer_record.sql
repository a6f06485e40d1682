INSERT INTO tickets.gazetteer_meta (singleton, version, checksum, places, loaded_at)
VALUES (true, %(version)s, %(checksum)s, %(places)s, now())
ON CONFLICT (singleton) DO UPDATE
    SET version = excluded.version, checksum = excluded.checksum, places = excluded.places,
        loaded_at = excluded.loaded_at;
