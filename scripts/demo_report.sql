-- make demo, last step: what the FleetOps "Tickets" tab and SLA tracking read, called the way
-- dashboards call them (as dashboard_api, which can run the reporting functions and read no table).
-- Usage: psql -d tracksolid_db -f scripts/demo_report.sql
--
-- The generated exports are dated June 2026, so the SLA clock is read "as of" the newest applied
-- change file instead of now() (against today's date every open sample ticket is long breached).
\set ON_ERROR_STOP on
\set QUIET on
\pset footer off
SET TimeZone = 'Africa/Nairobi';
SELECT coalesce((SELECT max(file_ts) FROM tickets.applied_files),
                (SELECT max(file_ts) FROM tickets.all_tickets), now()) AS as_of \gset

SET ROLE dashboard_api;

\echo
\echo 'reporting.fn_tickets_for_map: open tickets, most urgent first (SLA as of' :as_of 'EAT)'
SELECT dataset, ticket_id, raw_status, region, cluster, sla_state, sla_clock, age_hours,
       hours_to_breach, priority, geom_precision,
       round(latitude::numeric, 4) AS lat, round(longitude::numeric, 4) AS lon
FROM reporting.fn_tickets_for_map(p_limit => 8, p_as_of => :'as_of');

\echo 'reporting.fn_sla_summary: open tickets by region and cluster, most breached first'
SELECT dataset, region, cluster, open, on_track, at_risk, breached, unknown, oldest_ticket_id,
       oldest_age_hours
FROM reporting.fn_sla_summary(p_as_of => :'as_of')
LIMIT 8;

\echo 'reporting.fn_sla_reconciliation: closed INC tickets, the source verdict beside the 48 h rule, by region'
SELECT is_total, group_value AS region, closed, no_clock, compared, agree_pct, disagree_pct,
       source_within_rule_breached, source_breached_rule_within, median_mttr_minus_wall, mttr_within_1h_pct
FROM reporting.fn_sla_reconciliation(p_group => 'region')
LIMIT 6;

\echo 'reporting.fn_sla_compliance: INC per ISO week by the rule and by the source; open and breached at each week end'
SELECT period_start, period_end, closed, rule_within_pct, source_within_pct, no_clock, open_as_of, open_at_end,
       open_breached_at_end
FROM reporting.fn_sla_compliance('week', (:'as_of'::timestamptz AT TIME ZONE 'Africa/Nairobi')::date - 14,
                                 p_as_of => :'as_of');

RESET ROLE;
