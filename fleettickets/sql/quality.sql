-- Data-quality counts over one staged file (kept rows, before dedup).
SELECT count(*)                                                               AS kept_rows,
       count(*) FILTER (WHERE raw->>'assigned_team' IS NULL)                  AS null_assigned_team,
       count(*) FILTER (WHERE raw->>'created_at_service' IS NULL)             AS null_created_at_service,
       count(*) FILTER (WHERE raw->>'owner' IS NULL)                          AS null_owner,
       count(*) FILTER (WHERE raw->>'cluster' IS NULL)                        AS null_cluster,
       count(*) FILTER (WHERE raw->>'created_at_service' IS NOT NULL
                          AND tickets.eat_ts(raw->>'created_at_service') IS NULL) AS unparseable_created_at_service,
       max(tickets.eat_ts(raw->>'updated_at'))                                AS newest_updated_at
FROM pg_temp.staged;
