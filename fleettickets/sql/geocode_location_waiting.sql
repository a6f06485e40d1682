-- How many open addresses wait for a request (worth one, in a cluster with a centroid, no
-- answer standing): as the last pass counted them (tickets.geo_state, migrations/08), less
-- those the plus-code step has just answered (%(answered)s: a JSON array of their keys).
SELECT s.waiting - (
    SELECT count(*)
    FROM jsonb_to_recordset(%(answered)s::jsonb) AS k(region_key text, cluster_key text, location_key text)
    JOIN tickets.geo_addresses a
      ON a.region_key = k.region_key AND a.cluster_key = k.cluster_key AND a.location_key = k.location_key
    WHERE a.waiting)
FROM tickets.geo_state s;
