-- The first %(limit)s addresses to ask for, most urgent SLA clock first: open actionable INC
-- and open CRQ addresses, one row per normalised (region, cluster, location), waiting for a
-- request (no cached answer, or an expired miss or rejection) in a cluster with a centroid.
-- `waiting` is as of the last pass: an answer stored since (a plus code just decoded) is
-- checked here again.
SELECT a.region_key, a.cluster_key, a.location_key, a.location, a.cluster,
       ST_Y(gc.geom) AS lat, ST_X(gc.geom) AS lon,
       least(coalesce(gc.guard_km, %(guard_km)s), %(guard_km)s) AS guard_km
FROM tickets.geo_addresses a
JOIN tickets.geo_clusters gc
  ON gc.region_key = a.region_key AND gc.cluster_key = a.cluster_key AND gc.geom IS NOT NULL
WHERE a.waiting
  AND NOT tickets.geo_location_answered(a.region_key, a.cluster_key, a.location_key)
ORDER BY a.clock NULLS LAST, a.tickets DESC, a.location_key
LIMIT %(limit)s;
