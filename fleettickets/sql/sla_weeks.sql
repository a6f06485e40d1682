-- The `<ds>-sla` artifact (fleettickets/sla.py): the current ISO week (EAT, Monday to today) and
-- the one before, by the contract's rule and by the source's verdict (reporting.fn_sla_compliance),
-- and how often the two verdicts disagree on the tickets both judge (the total row of
-- reporting.fn_sla_reconciliation). %(as_of)s null: now.
WITH a AS (
    SELECT coalesce(%(as_of)s::timestamptz, now()) AS as_of
)
SELECT c.period_start, c.period_end, a.as_of,
       c.closed, c.rule_within, c.rule_breached, c.no_clock, c.rule_within_pct,
       c.source_within, c.source_breached, c.source_within_pct,
       r.compared, r.source_within_rule_breached + r.source_breached_rule_within AS disagreements,
       r.disagree_pct, c.open_as_of, c.open_at_end, c.open_breached_at_end
FROM a
CROSS JOIN LATERAL reporting.fn_sla_compliance(
    'week', date_trunc('week', (a.as_of AT TIME ZONE 'Africa/Nairobi')::date::timestamp)::date - 7, NULL,
    %(dataset)s, a.as_of) c
CROSS JOIN LATERAL reporting.fn_sla_reconciliation(c.period_start, c.period_end, 'region', %(dataset)s) r
WHERE r.is_total
ORDER BY c.period_start DESC;
