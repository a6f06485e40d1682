-- The decoded plus codes (ok, or guard_rejected when outside the cluster's guard radius), in
-- one statement, and the texts done with (decoded, or holding no usable code) leave the list.
-- %(answers)s: a JSON array of geo_locations rows; %(done)s: a JSON array of their keys.
WITH answers AS (
    INSERT INTO tickets.geo_locations AS gl
        (region_key, cluster_key, location_key, location, query, request, provider, status, precision,
         geom, distance_km, candidates, raw, fetched_at, expires_at)
    SELECT a.region_key, a.cluster_key, a.location_key, a.location, a.query, NULL, 'plus_code', a.status,
           CASE WHEN a.status = 'ok' THEN 'plus_code' END,
           CASE WHEN a.status = 'ok' THEN ST_SetSRID(ST_MakePoint(a.lon, a.lat), 4326) END,
           a.distance_km, 1, a.raw, now(),
           CASE WHEN a.status <> 'ok' THEN now() + make_interval(days => %(ttl_days)s) END
    FROM jsonb_to_recordset(%(answers)s::jsonb) AS a(region_key text, cluster_key text, location_key text,
         location text, query text, status text, lat float8, lon float8, distance_km float8, raw jsonb)
    ON CONFLICT (region_key, cluster_key, location_key) DO UPDATE
        SET location = excluded.location, query = excluded.query, request = excluded.request,
            provider = excluded.provider, status = excluded.status, precision = excluded.precision,
            geom = excluded.geom, distance_km = excluded.distance_km, candidates = excluded.candidates,
            raw = excluded.raw, fetched_at = excluded.fetched_at, expires_at = excluded.expires_at
    RETURNING 1
)
DELETE FROM tickets.geo_plus_codes p
USING jsonb_to_recordset(%(done)s::jsonb) AS d(region_key text, cluster_key text, location_key text)
WHERE p.region_key = d.region_key AND p.cluster_key = d.cluster_key AND p.location_key = d.location_key;
