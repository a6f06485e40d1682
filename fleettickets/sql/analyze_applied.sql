-- Statistics for what the upsert wrote, before the post-apply hook joins it (see analyze_src.sql).
ANALYZE pg_temp.applied;
