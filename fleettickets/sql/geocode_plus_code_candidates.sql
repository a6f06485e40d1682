-- Every distinct location text (open or closed ticket: decoding costs nothing) that may hold
-- a plus code and has no cached answer yet, with its cluster's centroid and guard radius.
WITH t AS (
    SELECT region, cluster, location FROM tickets.inc WHERE location LIKE '%%+%%'
    UNION
    SELECT region, cluster, location FROM tickets.crq WHERE location LIKE '%%+%%'
), k AS (
    SELECT DISTINCT ON (1, 2, 3)
           coalesce(tickets.norm_key(region), '') AS region_key,
           coalesce(tickets.norm_key(cluster), '') AS cluster_key,
           tickets.norm_key(location) AS location_key, location
    FROM t
    ORDER BY 1, 2, 3, location
)
SELECT k.region_key, k.cluster_key, k.location_key, k.location,
       ST_Y(gc.geom) AS lat, ST_X(gc.geom) AS lon,
       least(coalesce(gc.guard_km, %(guard_km)s), %(guard_km)s) AS guard_km
FROM k
LEFT JOIN tickets.geo_clusters gc ON gc.region_key = k.region_key AND gc.cluster_key = k.cluster_key
LEFT JOIN tickets.geo_locations gl
       ON gl.region_key = k.region_key AND gl.cluster_key = k.cluster_key AND gl.location_key = k.location_key
WHERE k.location_key <> ''
  AND (gl.location_key IS NULL OR (gl.status <> 'ok' AND gl.expires_at <= now()));
