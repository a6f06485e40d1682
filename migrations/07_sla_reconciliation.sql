-- SLA truth: the source's verdicts beside the contract's 48-hour rule, and compliance over time.
-- The export contract records that the source `sla_status` is not the plain 48 h rule and
-- `mttr` is not wall-clock time; these functions show how far the two definitions disagree,
-- on which tickets, and how compliance moves day by day or week by week. Neither definition
-- is ever recomputed from the other: both are kept side by side.
-- Conventions as in 04_reporting.sql / 05_roles.sql; pages: docs/reporting/fn_sla_*.md.

-- One row per closed ticket with both verdicts. Written once as a view so that the
-- reconciliation and the compliance report judge every ticket the same way.
--   dataset 'inc': the closure attribution of tickets.inc_closures (04_reporting.sql): the team
--     at the ticket's latest entry into `closed` in tickets.inc_history (assigned_team, else
--     owner), its current row's when it has no such history row; closed_on = the EAT date of
--     closed_at, else of that closing file's time, else of the row's file time. Restated here
--     with per-ticket probes of inc_history_closing_idx instead of 04's DISTINCT ON over the
--     whole history, so that a window of closures (read through the closed-at index) reads only
--     its own tickets' history, and none at all unless the team is asked for;
--     tests/test_sla_reconciliation.py checks that both give the same team and day for every ticket.
--   dataset 'crq': no history is captured, so team = the current assigned_team, else owner, and
--     closed_on = the EAT date of closed_at, else of the row's file time.
--   source_verdict: sla_status compared ignoring case and surrounding spaces, as
--     fn_team_closures does: 'within_sla' | 'breached' | 'other' (any other text) | 'none'.
--   rule_verdict, the contract's rule on the wall clock: 'within_sla' when
--     closed_at - created_at_service <= 48 h, 'breached' when longer, 'no_clock' when either is
--     null (never guessed from another column: such tickets are counted apart).
--   wall_hours: closed_at - created_at_service in hours, exact (numeric, not rounded).
CREATE OR REPLACE VIEW tickets.sla_closures WITH (security_invoker = true) AS
SELECT c.dataset, c.ticket_id, c.team, c.region, c.category, c.priority, c.closed_at, c.closed_on,
       c.created_at_service, c.sla_status, c.mttr,
       CASE WHEN lower(btrim(c.sla_status)) = 'within sla' THEN 'within_sla'
            WHEN lower(btrim(c.sla_status)) = 'breached' THEN 'breached'
            WHEN nullif(btrim(c.sla_status), '') IS NULL THEN 'none'
            ELSE 'other'
       END AS source_verdict,
       CASE WHEN c.created_at_service IS NULL OR c.closed_at IS NULL THEN 'no_clock'
            WHEN c.closed_at - c.created_at_service <= interval '48 hours' THEN 'within_sla'
            ELSE 'breached'
       END AS rule_verdict,
       extract(epoch FROM c.closed_at - c.created_at_service) / 3600 AS wall_hours
FROM (
    SELECT 'inc'::text AS dataset, i.ticket_id,
           -- Scalar subqueries, not a join: each runs only where its column is read (the team
           -- only when grouping by team; the closing file's time only when closed_at is null).
           (SELECT CASE WHEN count(*) = 0 THEN coalesce(i.assigned_team, i.owner)
                        ELSE min(coalesce(h.assigned_team, h.owner)) END
            FROM (SELECT h.assigned_team, h.owner
                  FROM tickets.inc_history h
                  WHERE h.ticket_id = i.ticket_id AND h.bucket = 'closed' AND h.prev_bucket IS DISTINCT FROM 'closed'
                  ORDER BY h.file_ts DESC
                  LIMIT 1) h) AS team,
           i.region, i.category, i.priority, i.closed_at,
           (coalesce(i.closed_at,
                     (SELECT max(h.file_ts)
                      FROM tickets.inc_history h
                      WHERE h.ticket_id = i.ticket_id AND h.bucket = 'closed' AND h.prev_bucket IS DISTINCT FROM 'closed'),
                     i.file_ts) AT TIME ZONE 'Africa/Nairobi')::date AS closed_on,
           i.created_at_service, i.sla_status, i.mttr
    FROM tickets.inc i
    WHERE i.bucket = 'closed'
    UNION ALL
    SELECT 'crq'::text, r.ticket_id, coalesce(r.assigned_team, r.owner), r.region, r.category, r.priority,
           r.closed_at, (coalesce(r.closed_at, r.file_ts) AT TIME ZONE 'Africa/Nairobi')::date,
           r.created_at_service, r.sla_status, r.mttr
    FROM tickets.crq r
    WHERE r.bucket = 'closed'
) c;


-- The agreement matrix of the two verdicts for tickets closed between two EAT dates (inclusive;
-- null: open-ended), by region, category, priority or team, with one total row first.
-- Cells: both within, both breached, source within / rule breached, source breached / rule
-- within; apart: no clock (the rule cannot be applied) and no verdict (the source gave none, or
-- another one). One example ticket per disagreeing cell, the most telling: the longest wall clock
-- the source still called within, the shortest it called breached. And mttr against the wall
-- clock: medians, the median and 90th percentile of mttr - wall hours, the share within +-1 h.
CREATE OR REPLACE FUNCTION reporting.fn_sla_reconciliation(
    p_from    date DEFAULT NULL,
    p_to      date DEFAULT NULL,
    p_group   text DEFAULT 'region',
    p_dataset text DEFAULT 'inc'
) RETURNS TABLE (
    is_total                            boolean,
    group_value                         text,
    closed                              bigint,
    no_clock                            bigint,
    no_verdict                          bigint,
    compared                            bigint,
    agree_within                        bigint,
    agree_breached                      bigint,
    source_within_rule_breached         bigint,
    source_breached_rule_within         bigint,
    agree_pct                           numeric,
    disagree_pct                        numeric,
    example_source_within_rule_breached text,
    example_source_breached_rule_within text,
    mttr_compared                       bigint,
    median_mttr                         numeric,
    median_wall_hours                   numeric,
    median_mttr_minus_wall              numeric,
    p90_abs_mttr_minus_wall             numeric,
    mttr_within_1h_pct                  numeric
)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_custom_plan
SET jit = off
AS $fn$
#variable_conflict use_column
DECLARE
    -- The same window restated on closed_at, so the closed-at index can serve it (closed_on is the
    -- EAT date of closed_at whenever closed_at is known).
    v_from_ts timestamptz := p_from::timestamp AT TIME ZONE 'Africa/Nairobi';
    v_to_ts   timestamptz := (p_to + 1)::timestamp AT TIME ZONE 'Africa/Nairobi';
BEGIN
    IF p_group IS NULL OR p_group NOT IN ('region', 'category', 'priority', 'team') THEN
        RAISE EXCEPTION 'p_group must be region, category, priority or team, not %', coalesce(p_group, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_dataset IS NULL OR p_dataset NOT IN ('inc', 'crq') THEN
        RAISE EXCEPTION 'p_dataset must be inc or crq, not %', coalesce(p_dataset, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_from > p_to THEN
        RAISE EXCEPTION 'p_from must not be after p_to (% > %)', p_from, p_to
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    RETURN QUERY
    WITH c AS (
        SELECT CASE p_group WHEN 'region' THEN s.region WHEN 'category' THEN s.category
                            WHEN 'priority' THEN s.priority ELSE s.team END AS grp,
               s.ticket_id, s.source_verdict, s.rule_verdict, s.wall_hours, s.mttr,
               s.mttr - s.wall_hours AS mttr_minus_wall
        FROM tickets.sla_closures s
        WHERE s.dataset = p_dataset
          AND (p_from IS NULL OR s.closed_on >= p_from)
          AND (p_to IS NULL OR s.closed_on <= p_to)
          AND (p_from IS NULL OR s.closed_at IS NULL OR s.closed_at >= v_from_ts)
          AND (p_to IS NULL OR s.closed_at IS NULL OR s.closed_at < v_to_ts)
    ),
    g AS (
        SELECT grouping(c.grp) = 1 AS is_total, c.grp,
               count(*) AS closed,
               count(*) FILTER (WHERE c.rule_verdict = 'no_clock') AS no_clock,
               count(*) FILTER (WHERE c.rule_verdict <> 'no_clock'
                                  AND c.source_verdict NOT IN ('within_sla', 'breached')) AS no_verdict,
               count(*) FILTER (WHERE c.source_verdict = 'within_sla' AND c.rule_verdict = 'within_sla') AS ww,
               count(*) FILTER (WHERE c.source_verdict = 'breached' AND c.rule_verdict = 'breached') AS bb,
               count(*) FILTER (WHERE c.source_verdict = 'within_sla' AND c.rule_verdict = 'breached') AS wb,
               count(*) FILTER (WHERE c.source_verdict = 'breached' AND c.rule_verdict = 'within_sla') AS bw,
               (array_agg(c.ticket_id ORDER BY c.wall_hours DESC, c.ticket_id)
                    FILTER (WHERE c.source_verdict = 'within_sla' AND c.rule_verdict = 'breached'))[1] AS ex_wb,
               (array_agg(c.ticket_id ORDER BY c.wall_hours, c.ticket_id)
                    FILTER (WHERE c.source_verdict = 'breached' AND c.rule_verdict = 'within_sla'))[1] AS ex_bw,
               count(c.mttr_minus_wall) AS mttr_compared,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY c.mttr) FILTER (WHERE c.mttr_minus_wall IS NOT NULL)
                   AS median_mttr,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY c.wall_hours) FILTER (WHERE c.mttr_minus_wall IS NOT NULL)
                   AS median_wall,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY c.mttr_minus_wall) AS median_diff,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY abs(c.mttr_minus_wall)) AS p90_abs_diff,
               count(*) FILTER (WHERE abs(c.mttr_minus_wall) <= 1) AS within_1h
        FROM c
        GROUP BY GROUPING SETS ((), (c.grp))
    )
    SELECT g.is_total, g.grp, g.closed, g.no_clock, g.no_verdict, g.ww + g.bb + g.wb + g.bw,
           g.ww, g.bb, g.wb, g.bw,
           round(100.0 * (g.ww + g.bb) / nullif(g.ww + g.bb + g.wb + g.bw, 0), 1),
           round(100.0 * (g.wb + g.bw) / nullif(g.ww + g.bb + g.wb + g.bw, 0), 1),
           g.ex_wb, g.ex_bw, g.mttr_compared,
           round(g.median_mttr::numeric, 2), round(g.median_wall::numeric, 2),
           round(g.median_diff::numeric, 2), round(g.p90_abs_diff::numeric, 2),
           round(100.0 * g.within_1h / nullif(g.mttr_compared, 0), 1)
    FROM g
    ORDER BY g.is_total DESC, g.closed DESC, g.grp NULLS LAST;
END
$fn$;


-- Compliance per EAT day or ISO week (Monday) between two EAT dates (inclusive; p_to null: the
-- EAT date of p_as_of; p_from null: 12 periods ending at p_to). Every period is a row, with or
-- without closures. Closed tickets by the rule (within, breached, no clock) and by the source
-- (within, breached), each with its within share; and, for INC, the open tickets at the end of
-- the period (the start of the next EAT day, clipped to p_as_of) and how many were breached then:
-- the ticket's bucket at that instant from tickets.inc_history (its latest row at or before it),
-- its SLA state from fn_sla_state at that instant (clock: the ticket's current created_at_service,
-- else first_seen_at; history does not record them). Null, not 0, before the first history row
-- and for periods that start at or after p_as_of. CRQ keeps no history: its open columns are null.
CREATE OR REPLACE FUNCTION reporting.fn_sla_compliance(
    p_grain   text        DEFAULT 'week',
    p_from    date        DEFAULT NULL,
    p_to      date        DEFAULT NULL,
    p_dataset text        DEFAULT 'inc',
    p_as_of   timestamptz DEFAULT now()
) RETURNS TABLE (
    period_start         date,
    period_end           date,
    closed               bigint,
    rule_within          bigint,
    rule_breached        bigint,
    no_clock             bigint,
    rule_within_pct      numeric,
    source_within        bigint,
    source_breached      bigint,
    source_within_pct    numeric,
    open_as_of           timestamptz,
    open_at_end          bigint,
    open_breached_at_end bigint
)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_custom_plan
SET jit = off
AS $fn$
#variable_conflict use_column
DECLARE
    v_as_of    timestamptz := coalesce(p_as_of, now());
    v_step     integer := CASE WHEN p_grain = 'week' THEN 7 ELSE 1 END;
    v_to       date := coalesce(p_to, (coalesce(p_as_of, now()) AT TIME ZONE 'Africa/Nairobi')::date);
    v_from     date;
    v_first    date;
    v_instants timestamptz[];
    v_begin    timestamptz;
    v_last     timestamptz;
    v_history  timestamptz;
BEGIN
    IF p_grain IS NULL OR p_grain NOT IN ('day', 'week') THEN
        RAISE EXCEPTION 'p_grain must be day or week, not %', coalesce(p_grain, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_dataset IS NULL OR p_dataset NOT IN ('inc', 'crq') THEN
        RAISE EXCEPTION 'p_dataset must be inc or crq, not %', coalesce(p_dataset, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_from := coalesce(p_from, CASE WHEN v_step = 7 THEN date_trunc('week', v_to::timestamp)::date ELSE v_to END
                               - 11 * v_step);
    IF v_from > v_to THEN
        RAISE EXCEPTION 'p_from must not be after p_to (% > %; a null p_to is the EAT date of p_as_of)', v_from, v_to
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_first := CASE WHEN v_step = 7 THEN date_trunc('week', v_from::timestamp)::date ELSE v_from END;

    -- The instants at which open tickets are counted, strictly ascending (a period that starts at
    -- or after p_as_of has none: it has not begun).
    v_instants := ARRAY(
        SELECT least((least(d::date + v_step - 1, v_to) + 1)::timestamp AT TIME ZONE 'Africa/Nairobi', v_as_of)
        FROM generate_series(v_first::timestamp, v_to::timestamp, make_interval(days => v_step)) d
        WHERE d AT TIME ZONE 'Africa/Nairobi' < v_as_of
        ORDER BY 1);
    v_begin := v_instants[1];
    v_last := v_instants[cardinality(v_instants)];
    -- Before the first history row nothing is known of open tickets: those counts are null, not 0.
    v_history := CASE WHEN p_dataset = 'inc' THEN (SELECT min(h.file_ts) FROM tickets.inc_history h) END;

    RETURN QUERY
    WITH p AS (
        SELECT d::date AS period_start, least(d::date + v_step - 1, v_to) AS period_end,
               CASE WHEN d AT TIME ZONE 'Africa/Nairobi' < v_as_of
                    THEN least((least(d::date + v_step - 1, v_to) + 1)::timestamp AT TIME ZONE 'Africa/Nairobi',
                               v_as_of) END AS open_as_of
        FROM generate_series(v_first::timestamp, v_to::timestamp, make_interval(days => v_step)) d
    ),
    c AS (
        SELECT CASE WHEN v_step = 7 THEN date_trunc('week', s.closed_on::timestamp)::date
                    ELSE s.closed_on END AS period_start,
               count(*) AS closed,
               count(*) FILTER (WHERE s.rule_verdict = 'within_sla') AS rule_within,
               count(*) FILTER (WHERE s.rule_verdict = 'breached') AS rule_breached,
               count(*) FILTER (WHERE s.rule_verdict = 'no_clock') AS no_clock,
               count(*) FILTER (WHERE s.source_verdict = 'within_sla') AS source_within,
               count(*) FILTER (WHERE s.source_verdict = 'breached') AS source_breached
        FROM tickets.sla_closures s
        WHERE s.dataset = p_dataset
          AND s.closed_on BETWEEN v_from AND v_to
          -- the same window on closed_at, for the closed-at index (see fn_sla_reconciliation)
          AND (s.closed_at IS NULL
               OR (s.closed_at >= v_from::timestamp AT TIME ZONE 'Africa/Nairobi'
                   AND s.closed_at < (v_to + 1)::timestamp AT TIME ZONE 'Africa/Nairobi'))
        GROUP BY 1
    ),
    -- Each history row holds from its file's time until the ticket's next row. A pending interval
    -- [entered, left_at) covers the instants entered <= t < left_at: a contiguous run of the sorted
    -- v_instants, found by binary search (width_bucket counts the instants <= a value). Rows
    -- after the last instant cannot matter (dropping them only lengthens an interval past it).
    -- A ticket that is closed now and has no history row after the first instant is closed at
    -- every instant (its latest row is its current state); so only tickets open now, or changed
    -- after the first instant, are read (the open partial indexes and inc_history_file_ts_idx).
    o AS (
        SELECT v_instants[x.idx] AS open_as_of,
               count(*) AS open_at_end,
               count(*) FILTER (WHERE st.sla_state = 'breached') AS open_breached_at_end
        FROM (
            SELECT i.ticket_id, i.created_at_service, i.first_seen_at
            FROM tickets.inc i
            WHERE i.bucket = 'pending' OR (i.bucket IS DISTINCT FROM 'pending' AND i.bucket IS DISTINCT FROM 'closed')
            UNION ALL
            SELECT i.ticket_id, i.created_at_service, i.first_seen_at
            FROM tickets.inc i
            WHERE i.bucket = 'closed'
              AND EXISTS (SELECT 1 FROM tickets.inc_history h WHERE h.ticket_id = i.ticket_id AND h.file_ts > v_begin)
        ) i
        CROSS JOIN LATERAL (
            SELECT h.bucket, h.file_ts AS entered,
                   lead(h.file_ts) OVER (ORDER BY h.file_ts) AS left_at
            FROM tickets.inc_history h
            WHERE h.ticket_id = i.ticket_id AND h.file_ts <= v_last
        ) iv
        CROSS JOIN LATERAL generate_series(
            width_bucket(iv.entered - interval '1 microsecond', v_instants) + 1,
            CASE WHEN iv.left_at IS NULL THEN cardinality(v_instants)
                 ELSE width_bucket(iv.left_at - interval '1 microsecond', v_instants) END) AS x(idx)
        CROSS JOIN LATERAL reporting.fn_sla_state('pending', i.created_at_service, i.first_seen_at,
                                                  NULL, NULL, v_instants[x.idx]) st
        WHERE p_dataset = 'inc' AND iv.bucket = 'pending'
        GROUP BY x.idx
    )
    SELECT p.period_start, p.period_end,
           coalesce(c.closed, 0), coalesce(c.rule_within, 0), coalesce(c.rule_breached, 0),
           coalesce(c.no_clock, 0),
           round(100.0 * c.rule_within / nullif(c.rule_within + c.rule_breached, 0), 1),
           coalesce(c.source_within, 0), coalesce(c.source_breached, 0),
           round(100.0 * c.source_within / nullif(c.source_within + c.source_breached, 0), 1),
           CASE WHEN p_dataset = 'inc' THEN p.open_as_of END,
           CASE WHEN p.open_as_of >= v_history THEN coalesce(o.open_at_end, 0) END,
           CASE WHEN p.open_as_of >= v_history THEN coalesce(o.open_breached_at_end, 0) END
    FROM p
    LEFT JOIN c ON c.period_start = p.period_start
    LEFT JOIN o ON o.open_as_of = p.open_as_of
    ORDER BY p.period_start;
END
$fn$;


-- fn_sla_compliance: the first history row (open counts are known from then on), and the tickets
-- changed after an instant.
CREATE INDEX IF NOT EXISTS inc_history_file_ts_idx ON tickets.inc_history (file_ts);


-- Ownership and grants, as 05_roles.sql does for the functions of 04.
GRANT SELECT ON tickets.sla_closures TO fleettickets_report_owner;
ALTER FUNCTION reporting.fn_sla_reconciliation(date, date, text, text) OWNER TO fleettickets_report_owner;
ALTER FUNCTION reporting.fn_sla_compliance(text, date, date, text, timestamptz) OWNER TO fleettickets_report_owner;
REVOKE EXECUTE ON FUNCTION reporting.fn_sla_reconciliation(date, date, text, text),
                           reporting.fn_sla_compliance(text, date, date, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.fn_sla_reconciliation(date, date, text, text),
                          reporting.fn_sla_compliance(text, date, date, text, timestamptz)
    TO dashboard_api, fleettickets_loader, fleettickets_report_owner;
