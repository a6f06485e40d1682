-- One gazetteer load at a time (held to the end of the loading transaction).
SELECT pg_advisory_xact_lock(hashtext('fleettickets.gazetteer'));
