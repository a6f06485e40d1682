-- Data-quality counts over one staged file (kept rows, before dedup). Plain jsonb reads only:
-- the newest updated_at is the text maximum (ISO text sorts as time), parsed once.
SELECT count(*)                                                   AS kept_rows,
       count(*) FILTER (WHERE raw->>'assigned_team' IS NULL)      AS null_assigned_team,
       count(*) FILTER (WHERE raw->>'created_at_service' IS NULL) AS null_created_at_service,
       count(*) FILTER (WHERE raw->>'owner' IS NULL)              AS null_owner,
       count(*) FILTER (WHERE raw->>'cluster' IS NULL)            AS null_cluster,
       tickets.eat_ts(max(translate(raw->>'updated_at', 'T', ' '))
                      FILTER (WHERE raw->>'updated_at' ~ '^\d{4}-'))  AS newest_updated_at
FROM pg_temp.staged;
