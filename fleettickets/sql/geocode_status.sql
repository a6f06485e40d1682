-- One dataset's clusters that match nothing in the gazetteer (ticket counts, and whether a
-- provider placed them), for `fleettickets status`.
WITH k AS (
    SELECT region, cluster, count(*) AS tickets, count(*) FILTER (WHERE bucket = 'pending') AS open
    FROM {table}
    GROUP BY region, cluster
)
SELECT k.region, k.cluster, k.tickets, k.open,
       CASE WHEN gc.geom IS NOT NULL AND gc.place_id IS NULL THEN gc.source END AS placed_by
FROM k
LEFT JOIN tickets.geo_clusters gc
       ON gc.region_key = coalesce(tickets.norm_key(k.region), '')
      AND gc.cluster_key = coalesce(tickets.norm_key(k.cluster), '')
WHERE tickets.gazetteer_match(k.region, k.cluster) IS NULL
ORDER BY k.tickets DESC, k.cluster NULLS FIRST, k.region;
