-- fn_sla_compliance: the open-ticket counts without replaying the history of unchanged tickets.
-- 07 read the whole INC history of every ticket open now (a history index scan, a sort and a
-- window per ticket: ~0.75 s of the `inc-sla` artifact at 10x). A ticket with no history row
-- after the first instant has the same latest row at every instant, so its bucket there is the
-- bucket of that one row: one probe of inc_history_pkey (its newest row), no window. Only the
-- tickets changed after the first instant (open now: that probe says so; closed now:
-- inc_history_file_ts_idx) are still replayed interval by interval. Still one probe per open
-- ticket: the cost follows the open tickets and the rows written since, not history's length.
-- The rows returned are 07's, to the byte; the arguments, columns, SET options and SECURITY
-- DEFINER are 07's too. CREATE OR REPLACE keeps the owner and the grants 07 gave.


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
    -- Two kinds of ticket:
    --   not changed after the first instant: every row is at or before every instant, so the
    --     latest row is the latest at each of them. Open now (bucket not closed): one probe of
    --     inc_history_pkey for the newest row; counted at every instant when it is pending (no row:
    --     never counted), no window. Closed now: their latest row is their current state, closed
    --     at every instant: not read.
    --   changed after it (a newest row after it; closed now: inc_history_file_ts_idx): their rows
    --     up to the last instant, interval by interval, as above.
    --   The cost follows the tickets open now and the rows written in the window, not the
    --   length of each ticket's history.
    nc AS (
        SELECT i.ticket_id, i.created_at_service, i.first_seen_at, l.file_ts AS newest, l.bucket
        FROM tickets.inc i
        CROSS JOIN LATERAL (
            SELECT h.file_ts, h.bucket
            FROM tickets.inc_history h
            WHERE h.ticket_id = i.ticket_id
            ORDER BY h.file_ts DESC
            LIMIT 1
        ) l
        WHERE p_dataset = 'inc' AND cardinality(v_instants) > 0
          AND (i.bucket = 'pending' OR (i.bucket IS DISTINCT FROM 'pending' AND i.bucket IS DISTINCT FROM 'closed'))
    ),
    oi AS (
        SELECT x.idx, i.created_at_service, i.first_seen_at
        FROM (
            SELECT nc.ticket_id, nc.created_at_service, nc.first_seen_at
            FROM nc
            WHERE nc.newest > v_begin
            UNION ALL
            SELECT i.ticket_id, i.created_at_service, i.first_seen_at
            FROM tickets.inc i
            WHERE p_dataset = 'inc' AND i.bucket = 'closed'
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
        WHERE iv.bucket = 'pending'
        UNION ALL
        SELECT x.idx, nc.created_at_service, nc.first_seen_at
        FROM nc
        CROSS JOIN generate_series(1, cardinality(v_instants)) AS x(idx)
        WHERE nc.newest <= v_begin AND nc.bucket = 'pending'
    ),
    o AS (
        SELECT v_instants[oi.idx] AS open_as_of,
               count(*) AS open_at_end,
               count(*) FILTER (WHERE st.sla_state = 'breached') AS open_breached_at_end
        FROM oi
        CROSS JOIN LATERAL reporting.fn_sla_state('pending', oi.created_at_service, oi.first_seen_at,
                                                  NULL, NULL, v_instants[oi.idx]) st
        GROUP BY oi.idx
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


-- Ownership and grants as 07 set them (CREATE OR REPLACE keeps both; restated so that this file
-- alone says who owns and may call the function).
ALTER FUNCTION reporting.fn_sla_compliance(text, date, date, text, timestamptz) OWNER TO fleettickets_report_owner;
REVOKE EXECUTE ON FUNCTION reporting.fn_sla_compliance(text, date, date, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.fn_sla_compliance(text, date, date, text, timestamptz)
    TO dashboard_api, fleettickets_loader, fleettickets_report_owner;
