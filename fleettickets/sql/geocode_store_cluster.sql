-- A provider's answer for a cluster the gazetteer does not know (misses expire).
UPDATE tickets.geo_clusters
   SET source = %(provider)s,
       status = %(status)s,
       geom = CASE WHEN %(lat)s::float8 IS NULL THEN NULL
                   ELSE ST_SetSRID(ST_MakePoint(%(lon)s::float8, %(lat)s::float8), 4326) END,
       guard_km = NULL,
       query = %(query)s,
       raw = %(raw)s,
       fetched_at = now(),
       expires_at = CASE WHEN %(status)s = 'miss' THEN now() + make_interval(days => %(ttl_days)s) END
 WHERE region_key = %(region_key)s AND cluster_key = %(cluster_key)s AND place_id IS NULL;
