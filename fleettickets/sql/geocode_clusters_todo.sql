-- Clusters on tickets that the gazetteer does not know and no provider has placed yet
-- (never asked, or a miss whose time is up), busiest first.
SELECT gc.region_key, gc.cluster_key, gc.region, gc.cluster
FROM tickets.geo_clusters gc
JOIN tickets.geo_cluster_tickets t ON t.region_key = gc.region_key AND t.cluster_key = gc.cluster_key
WHERE t.tickets > 0
  AND gc.place_id IS NULL
  AND (gc.status IS NULL OR (gc.status = 'miss' AND gc.expires_at <= now()))
ORDER BY t.tickets DESC, gc.cluster_key, gc.region_key;
