-- Whether the gazetteer tables exist (migration 03 applied).
SELECT to_regclass('tickets.gazetteer_meta') IS NOT NULL;
