-- How many open addresses are worth a request and have no standing answer, in a cluster with
-- a known centroid (kept in tickets.geo_addresses by the placing passes, migrations/08).
SELECT count(*)
FROM tickets.geo_addresses a
JOIN tickets.geo_clusters gc
  ON gc.region_key = a.region_key AND gc.cluster_key = a.cluster_key AND gc.geom IS NOT NULL
WHERE NOT EXISTS (
    SELECT 1 FROM tickets.geo_locations gl
    WHERE gl.region_key = a.region_key AND gl.cluster_key = a.cluster_key AND gl.location_key = a.location_key
      AND (gl.status = 'ok' OR NOT coalesce(gl.expires_at <= now(), false)));
