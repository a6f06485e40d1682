-- Placeholders in <angle brackets> are composed by fleettickets/rules_sql.py from the dataset.
-- The file's tickets through the dataset's rules, in file order: each raw record's key, the
-- row's verdict and its kept cells normalised (empty means null). A subquery that the
-- statements below compose in; <key>, <flag>, <cells> come from the dataset's declaration.
SELECT r.seq, v.key, v.sentinel, v.invalid, v.alarm,
       NOT (v.sentinel OR v.invalid OR v.alarm) AS kept, r.nul_cells, {cells}
FROM pg_temp.raw_rows r,
     LATERAL (SELECT k.key,
                     starts_with(k.key, %(sentinel)s) AS sentinel,
                     k.key = '' AND NOT starts_with(k.key, %(sentinel)s) AS invalid,
                     k.flag = 'true' AND k.key <> '' AND NOT starts_with(k.key, %(sentinel)s) AS alarm
              FROM (SELECT {key} AS key, {flag} AS flag) k) v
