-- The gazetteer version and file checksum the database holds.
SELECT version, checksum, places FROM tickets.gazetteer_meta;
