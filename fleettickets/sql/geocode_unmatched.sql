-- Clusters on tickets that match nothing in the gazetteer, with their tickets and whether a
-- provider placed them; plus tickets without any cluster (cluster_key '', by region).
SELECT CASE WHEN t.cluster_key = '' THEN nullif(t.region_key, '') ELSE gc.region END AS region,
       CASE WHEN t.cluster_key <> '' THEN gc.cluster END AS cluster,
       t.tickets, t.open,
       CASE WHEN gc.geom IS NOT NULL THEN gc.source END AS placed_by
FROM tickets.geo_cluster_tickets t
LEFT JOIN tickets.geo_clusters gc ON gc.region_key = t.region_key AND gc.cluster_key = t.cluster_key
WHERE t.tickets > 0 AND gc.place_id IS NULL
ORDER BY t.tickets DESC, t.cluster_key, t.region_key;
