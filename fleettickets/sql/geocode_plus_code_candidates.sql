-- Location texts that may hold a plus code and have no answer yet (open or closed tickets:
-- decoding costs nothing), with their cluster's centroid and guard radius.
SELECT p.region_key, p.cluster_key, p.location_key, p.location,
       ST_Y(gc.geom) AS lat, ST_X(gc.geom) AS lon,
       least(coalesce(gc.guard_km, %(guard_km)s), %(guard_km)s) AS guard_km
FROM tickets.geo_plus_codes p
LEFT JOIN tickets.geo_clusters gc ON gc.region_key = p.region_key AND gc.cluster_key = p.cluster_key
ORDER BY p.region_key, p.cluster_key, p.location_key;
