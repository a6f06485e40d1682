-- Placeholders in <angle brackets> are composed by fleettickets/rules_sql.py from the dataset.
-- The file's tickets through the dataset's rules, in file order: each raw record's key, the
-- row's verdict and its kept cells normalised (empty means null). A subquery that the
-- statements below compose in; <key>, <flag>, <cells> come from the dataset's declaration.
-- OFFSET 0 keeps each level from being folded into the next: the key and the verdict are
-- computed once per record, not once per place that reads them (5x faster on a baseline).
SELECT r.seq, r.key, r.sentinel, r.invalid, r.alarm,
       NOT (r.sentinel OR r.invalid OR r.alarm) AS kept, r.nul_cells, {cells}
FROM (SELECT k.*,
             starts_with(k.key, %(sentinel)s) AS sentinel,
             k.key = '' AS invalid,
             k.flag = 'true' AND k.key <> '' AND NOT starts_with(k.key, %(sentinel)s) AS alarm
      FROM (SELECT r.*, {key} AS key, {flag} AS flag FROM pg_temp.raw_rows r OFFSET 0) k
      OFFSET 0) r
