-- A name or alias, normalised by the same function that normalises ticket clusters.
INSERT INTO tickets.gazetteer_names (region_key, name_key, place_id)
VALUES (tickets.norm_key(%(region)s), tickets.norm_key(%(name)s), %(place_id)s)
ON CONFLICT (region_key, name_key) DO NOTHING;
