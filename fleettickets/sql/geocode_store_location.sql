-- A genuine answer for one normalised (region, cluster, location): ok, miss or guard_rejected.
INSERT INTO tickets.geo_locations AS gl
    (region_key, cluster_key, location_key, location, query, request, provider, status, precision,
     geom, distance_km, candidates, raw, fetched_at, expires_at)
VALUES (%(region_key)s, %(cluster_key)s, %(location_key)s, %(location)s, %(query)s, %(request)s,
        %(provider)s, %(status)s, %(precision)s,
        CASE WHEN %(lat)s::float8 IS NULL THEN NULL
             ELSE ST_SetSRID(ST_MakePoint(%(lon)s::float8, %(lat)s::float8), 4326) END,
        %(distance_km)s, %(candidates)s, %(raw)s, now(),
        CASE WHEN %(status)s <> 'ok' THEN now() + make_interval(days => %(ttl_days)s) END)
ON CONFLICT (region_key, cluster_key, location_key) DO UPDATE
    SET location = excluded.location, query = excluded.query, request = excluded.request,
        provider = excluded.provider, status = excluded.status, precision = excluded.precision,
        geom = excluded.geom, distance_km = excluded.distance_km, candidates = excluded.candidates,
        raw = excluded.raw, fetched_at = excluded.fetched_at, expires_at = excluded.expires_at;
