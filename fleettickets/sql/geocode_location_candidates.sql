-- Addresses worth a request: open actionable INC and open CRQ tickets, one row per
-- normalised (region, cluster, location) with no cached answer (or an expired miss or
-- rejection), in a cluster with a known centroid; most urgent SLA clock first.
WITH open AS (
    SELECT region, cluster, location, coalesce(created_at_service, first_seen_at) AS clock
    FROM tickets.inc WHERE bucket = 'pending' AND is_actionable AND location IS NOT NULL
    UNION ALL
    SELECT region, cluster, location, coalesce(created_at_service, first_seen_at)
    FROM tickets.crq WHERE bucket = 'pending' AND location IS NOT NULL
), grouped AS (
    SELECT coalesce(tickets.norm_key(region), '') AS region_key,
           coalesce(tickets.norm_key(cluster), '') AS cluster_key,
           tickets.norm_key(location) AS location_key,
           min(location) AS location, min(cluster) AS cluster,
           min(clock) AS clock, count(*) AS tickets
    FROM open
    GROUP BY 1, 2, 3
)
SELECT g.region_key, g.cluster_key, g.location_key, g.location, g.cluster, g.tickets,
       ST_Y(gc.geom) AS lat, ST_X(gc.geom) AS lon,
       least(coalesce(gc.guard_km, %(guard_km)s), %(guard_km)s) AS guard_km
FROM grouped g
JOIN tickets.geo_clusters gc
  ON gc.region_key = g.region_key AND gc.cluster_key = g.cluster_key AND gc.geom IS NOT NULL
LEFT JOIN tickets.geo_locations gl
       ON gl.region_key = g.region_key AND gl.cluster_key = g.cluster_key AND gl.location_key = g.location_key
WHERE g.location_key <> ''
  AND (gl.location_key IS NULL OR (gl.status <> 'ok' AND gl.expires_at <= now()))
ORDER BY g.clock NULLS LAST, g.tickets DESC, g.location_key;
