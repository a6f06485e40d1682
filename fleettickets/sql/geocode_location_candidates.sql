-- The first %(limit)s of them to ask for, most urgent SLA clock first: open actionable INC
-- and open CRQ addresses, one row per normalised (region, cluster, location), with no
-- cached answer (or an expired miss or rejection), in a cluster with a known centroid.
SELECT a.region_key, a.cluster_key, a.location_key, a.location, a.cluster,
       ST_Y(gc.geom) AS lat, ST_X(gc.geom) AS lon,
       least(coalesce(gc.guard_km, %(guard_km)s), %(guard_km)s) AS guard_km
FROM tickets.geo_addresses a
JOIN tickets.geo_clusters gc
  ON gc.region_key = a.region_key AND gc.cluster_key = a.cluster_key AND gc.geom IS NOT NULL
WHERE NOT EXISTS (
    SELECT 1 FROM tickets.geo_locations gl
    WHERE gl.region_key = a.region_key AND gl.cluster_key = a.cluster_key AND gl.location_key = a.location_key
      AND (gl.status = 'ok' OR NOT coalesce(gl.expires_at <= now(), false)))
ORDER BY a.clock NULLS LAST, a.tickets DESC, a.location_key
LIMIT %(limit)s;
