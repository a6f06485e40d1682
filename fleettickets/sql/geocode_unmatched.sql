-- Clusters on tickets that match nothing in the gazetteer, with their tickets and whether a
-- provider placed them; plus tickets without any cluster (cluster_key '').
WITH t AS (
    SELECT coalesce(tickets.norm_key(region), '') AS region_key,
           coalesce(tickets.norm_key(cluster), '') AS cluster_key,
           min(region) AS region, min(cluster) AS cluster,
           count(*) AS tickets, count(*) FILTER (WHERE bucket = 'pending') AS open
    FROM (SELECT region, cluster, bucket FROM tickets.inc
          UNION ALL SELECT region, cluster, bucket FROM tickets.crq) x
    GROUP BY 1, 2
)
SELECT t.region, t.cluster, t.tickets, t.open,
       CASE WHEN gc.geom IS NOT NULL THEN gc.source END AS placed_by, gc.status
FROM t
LEFT JOIN tickets.geo_clusters gc ON gc.region_key = t.region_key AND gc.cluster_key = t.cluster_key
WHERE gc.place_id IS NULL
ORDER BY t.tickets DESC, t.cluster_key, t.region_key;
