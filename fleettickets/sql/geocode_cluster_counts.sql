-- How the clusters on tickets are placed.
SELECT count(*) AS known,
       count(*) FILTER (WHERE place_id IS NOT NULL) AS gazetteer,
       count(*) FILTER (WHERE place_id IS NULL AND geom IS NOT NULL) AS provider,
       count(*) FILTER (WHERE geom IS NULL) AS unplaced
FROM tickets.geo_clusters;
