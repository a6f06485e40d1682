-- Clusters on tickets that the gazetteer does not know and no provider has placed yet
-- (never asked, or a miss whose time is up), busiest first.
WITH t AS (
    SELECT coalesce(tickets.norm_key(region), '') AS region_key,
           coalesce(tickets.norm_key(cluster), '') AS cluster_key, count(*) AS tickets
    FROM (SELECT region, cluster FROM tickets.inc UNION ALL SELECT region, cluster FROM tickets.crq) x
    GROUP BY 1, 2
)
SELECT gc.region_key, gc.cluster_key, gc.region, gc.cluster
FROM tickets.geo_clusters gc
JOIN t ON t.region_key = gc.region_key AND t.cluster_key = gc.cluster_key
WHERE gc.place_id IS NULL
  AND (gc.status IS NULL OR (gc.status = 'miss' AND gc.expires_at <= now()))
ORDER BY t.tickets DESC, gc.cluster_key, gc.region_key;
