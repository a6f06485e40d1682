INSERT INTO tickets.gazetteer (place_id, name, region, county, kind, aliases, geom, guard_km, geonameid, source)
VALUES (%(place_id)s, %(name)s, %(region)s, %(county)s, %(kind)s, %(aliases)s,
        ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), %(guard_km)s, %(geonameid)s, %(source)s);
