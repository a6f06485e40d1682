"""SLA truth (migrations/07_sla_reconciliation.sql): the source's verdicts beside the contract's 48 h
rule (fn_sla_reconciliation) and compliance per day or week (fn_sla_compliance), each equal row for
row to an independent computation in Python over generated change streams; the `<ds>-sla`
artifact; the argument checks; and who may call them."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from psycopg import errors

from fleettickets.sample import write_stream
from fleettickets.sla import sla_report
from flows.ingest import INGEST_FLOWS
from tests.helpers import upload
from tests.reporting_fixtures import EAT, PEOPLE, TEAMS, apply_rows, eat_text, raw_row, team_stream

H = timedelta(hours=1)
SLA = 48 * H
START = datetime(2026, 6, 1, 6, 0, tzinfo=EAT)  # a Monday
FILES = 30
STEP = timedelta(hours=11)  # 11 h apart: over the stream the files fall on every hour of the day, midnight too
GROUPS = ("region", "category", "priority", "team")


def file_ts(k: int) -> datetime:
    return START + k * STEP


def rows(conn: psycopg.Connection, query: str, params: tuple | dict = ()) -> list[dict]:
    cur = conn.execute(query, params)
    names = [c.name for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def reset(conn: psycopg.Connection) -> None:
    """What the `db` fixture does, once per generated example."""
    conn.execute("TRUNCATE tickets.inc, tickets.crq, tickets.inc_history, tickets.applied_files")


# -- generated streams -------------------------------------------------------------------------

WALLS = st.one_of(
    st.integers(0, 110 * 3600),  # any wall clock, in seconds
    st.integers(0, 11_000).map(lambda k: 36 * k),  # whole hundredths of an hour: mttr can be exactly +-1 h off
    st.sampled_from([48 * 3600 - 1, 48 * 3600, 48 * 3600 + 1]),  # the rule's edge
)
CLOSED_AT = st.one_of(
    st.tuples(st.just("wall"), WALLS),  # created + wall
    st.tuples(st.just("midnight"), st.sampled_from([-1, 0, 1])),  # next to the closing file's EAT midnight
    st.just(("bad", 0)),  # unparseable: the typed column is null
)
VERDICTS = st.sampled_from(["Within SLA", "Within SLA ", " within sla", "WITHIN SLA", "Breached", "BREACHED ",
                            "breached", "Met by vendor", "", None])
MTTRS = st.one_of(
    st.none(), st.just("n/a"),
    st.tuples(st.just("near"), st.sampled_from([-1, 1, 0, -0.99, 0.99, -1.01, 1.01])),  # wall hours + this
    st.decimals(min_value=0, max_value=150, places=2).map(lambda d: f"{d:.2f}"),
)
CLOSE = st.tuples(CLOSED_AT, VERDICTS, MTTRS)
STEPS = st.one_of(
    st.tuples(st.just("reroute"), st.integers(1, 4), st.sampled_from((*TEAMS, None)), st.sampled_from((*PEOPLE, None))),
    st.tuples(st.just("close"), st.integers(1, 4), CLOSE),  # on a closed ticket: re-routed after closing
    st.tuples(st.just("close"), st.integers(1, 4), CLOSE),  # (twice as likely: most tickets close)
    st.tuples(st.just("reopen"), st.integers(1, 4), st.sampled_from(TEAMS)),
    st.tuples(st.just("touch"), st.integers(1, 4)),  # another column changes: a new row, no history row
)
TICKETS = st.fixed_dictionaries({
    "first": st.integers(0, FILES - 1),
    "age": st.integers(0, 60 * 3600),  # the fault opened this long before the ticket's first file
    "clock": st.sampled_from(["cas", "cas", "cas", "none", "bad", "neither"]),
    "closed_first": st.one_of(st.none(), st.none(), CLOSE),  # first seen already closed
    "team": st.sampled_from((*TEAMS, None)),
    "owner": st.sampled_from((*PEOPLE, None)),
    "region": st.sampled_from(["nairobi", "coast", "rift valley", None]),
    "category": st.sampled_from(["No Service", "Slow Speed", None]),
    "priority": st.sampled_from(["P1", "P2", "P3", "P4"]),
    "steps": st.lists(STEPS, max_size=4),
})


def _close(row: dict, created: datetime, k: int, spec: tuple) -> None:
    (mode, x), verdict, mttr = spec
    if mode == "wall":
        closed: datetime | None = created + timedelta(seconds=x)
    elif mode == "midnight":
        closed = file_ts(k).replace(hour=0, minute=0, second=0) + timedelta(seconds=x)
    else:
        closed = None
    if isinstance(mttr, tuple):
        wall = (closed - created) / H if closed else 5.0
        mttr = f"{round(wall + mttr[1], 2):.2f}"
    row.update(bucket="closed", raw_status="CLOSED", closed_at=eat_text(closed) if closed else "2026-02-30 10:00:00",
               sla_status=verdict, mttr=mttr)


def build_stream(plans: list[dict], prefix: str) -> list[tuple[int, list[dict]]]:
    """[(file index, rows)]: each row a ticket's full current state, as the exporter writes it."""
    files: dict[int, list[dict]] = defaultdict(list)
    for n, plan in enumerate(plans):
        k = plan["first"]
        created = file_ts(k) - timedelta(seconds=plan["age"])
        row = raw_row(f"{prefix}{n:012d}", bucket="pending", raw_status="NEW",
                      created_at_service={"cas": eat_text(created), "bad": "2026-02-30 10:00:00"}.get(plan["clock"]),
                      first_seen_at=None if plan["clock"] == "neither" else eat_text(file_ts(k)),
                      assigned_team=plan["team"], owner=plan["owner"], region=plan["region"],
                      category=plan["category"], priority=plan["priority"])
        if plan["closed_first"]:
            _close(row, created, k, plan["closed_first"])
        files[k].append(dict(row))
        for kind, gap, *args in plan["steps"]:
            k += gap
            if k >= FILES:
                break
            closed = row["bucket"] == "closed"
            if kind == "reroute" or (kind == "reopen" and not closed):
                row.update(assigned_team=args[0], owner=args[1] if kind == "reroute" else row["owner"])
                if not closed:
                    row["raw_status"] = "ASSIGNED"
            elif kind == "close" and closed:
                row.update(assigned_team="NOC L2", owner="Service Desk")
            elif kind == "close":
                _close(row, created, k, args[0])
            elif kind == "reopen":
                row.update(bucket="pending", raw_status="IN PROGRESS", closed_at=None, sla_status=None, mttr=None,
                           assigned_team=args[0])
            else:
                row["summary"] = f"customer called again (file {k})"
            files[k].append(dict(row))
    return sorted(files.items())


def apply_stream(conn: psycopg.Connection, dataset: str, stream: list[tuple[int, list[dict]]]) -> None:
    for k, file_rows in stream:
        apply_rows(conn, dataset, file_ts(k), file_rows)


# -- the oracle: the contract's definitions, written from the stream, not from the SQL --------------

_EAT_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*$")


def parse_eat(text: str | None) -> datetime | None:
    if not text or not _EAT_TEXT.match(text):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=EAT)
    except ValueError:  # 2026-02-30
        return None


def source_verdict(text: str | None) -> str:
    t = (text or "").strip(" ").lower()  # PostgreSQL's btrim trims spaces only
    return {"within sla": "within_sla", "breached": "breached", "": "none"}.get(t, "other")


@dataclass(frozen=True)
class Closed:
    ticket_id: str
    team: str | None
    region: str | None
    category: str | None
    priority: str | None
    closed_on: date
    source: str
    rule: str
    wall: Fraction | None  # hours, exact
    mttr: Fraction | None


@dataclass
class Replay:
    closed: list[Closed]
    history_start: datetime | None  # the first file (INC history begins there)
    bucket_at: Callable[[str, datetime], str | None]
    clock: dict[str, datetime | None]  # the open-ticket SLA clock: created_at_service, else first_seen_at


def replay(stream: list[tuple[int, list[dict]]], dataset: str) -> Replay:
    current: dict[str, dict] = {}
    # The row's file_ts: the last file that carried the ticket, changed or not (the upsert records
    # that a newer file carried an unchanged row; docs/design.md). CRQ dates a closure without a
    # parseable closed_at by it: no history, so no closing file.
    carried: dict[str, int] = {}
    closer: dict[str, int] = {}  # the file of the latest entry into closed
    seen: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for k, file_rows in stream:
        for row in file_rows:
            tid = row["ticket_id"]
            before = current.get(tid)
            carried[tid] = k
            if row["bucket"] == "closed" and (before is None or before["bucket"] != "closed"):
                closer[tid] = k
            current[tid] = row
            seen[tid].append((file_ts(k), row["bucket"]))
    closed = []
    for tid, row in current.items():
        if row["bucket"] != "closed":
            continue
        at_close = next(r for k, rs in stream if k == closer[tid] for r in rs if r["ticket_id"] == tid)
        team_row = at_close if dataset == "inc" else row
        closed_at, cas = parse_eat(row["closed_at"]), parse_eat(row["created_at_service"])
        fallback = file_ts(closer[tid] if dataset == "inc" else carried[tid])
        wall = None if closed_at is None or cas is None else Fraction((closed_at - cas) // timedelta(seconds=1), 3600)
        closed.append(Closed(
            ticket_id=tid, team=team_row["assigned_team"] or team_row["owner"], region=row["region"],
            category=row["category"], priority=row["priority"],
            closed_on=(closed_at or fallback).astimezone(EAT).date(), source=source_verdict(row["sla_status"]),
            rule="no_clock" if wall is None else "within_sla" if closed_at - cas <= SLA else "breached",
            wall=wall, mttr=Fraction(Decimal(row["mttr"].strip())) if row["mttr"] and _NUMBER.match(row["mttr"])
            else None,
        ))

    def bucket_at(tid: str, instant: datetime) -> str | None:
        states = [bucket for ts, bucket in seen[tid] if ts <= instant]
        return states[-1] if states else None

    return Replay(closed, file_ts(stream[0][0]) if stream else None, bucket_at,
                  {tid: parse_eat(r["created_at_service"]) or parse_eat(r["first_seen_at"])
                   for tid, r in current.items()})


def pct(part: int, whole: int) -> Decimal | None:
    """PostgreSQL's round(100.0 * part / whole, 1): half away from zero."""
    if not whole:
        return None
    return (Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def percentile(values: list[Fraction], fraction: float) -> Fraction | None:
    """percentile_cont: linear interpolation between the two nearest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    pos = Fraction(fraction).limit_denominator(100) * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (pos - lo) * (ordered[hi] - ordered[lo])


def expected_matrix(group: list[Closed]) -> dict:
    def cell(source: str, rule: str) -> list[Closed]:
        return [c for c in group if c.source == source and c.rule == rule]

    ww, bb = cell("within_sla", "within_sla"), cell("breached", "breached")
    wb, bw = cell("within_sla", "breached"), cell("breached", "within_sla")
    compared = len(ww) + len(bb) + len(wb) + len(bw)
    timed = [c for c in group if c.mttr is not None and c.wall is not None]
    diffs = [c.mttr - c.wall for c in timed]
    return {
        "closed": len(group),
        "no_clock": sum(c.rule == "no_clock" for c in group),
        "no_verdict": sum(c.rule != "no_clock" and c.source not in ("within_sla", "breached") for c in group),
        "compared": compared, "agree_within": len(ww), "agree_breached": len(bb),
        "source_within_rule_breached": len(wb), "source_breached_rule_within": len(bw),
        "agree_pct": pct(len(ww) + len(bb), compared), "disagree_pct": pct(len(wb) + len(bw), compared),
        "example_source_within_rule_breached": min(((-c.wall, c.ticket_id) for c in wb), default=(0, None))[1],
        "example_source_breached_rule_within": min(((c.wall, c.ticket_id) for c in bw), default=(0, None))[1],
        "mttr_compared": len(timed),
        "median_mttr": percentile([c.mttr for c in timed], 0.5),
        "median_wall_hours": percentile([c.wall for c in timed], 0.5),
        "median_mttr_minus_wall": percentile(diffs, 0.5),
        "p90_abs_mttr_minus_wall": percentile([abs(d) for d in diffs], 0.9),
        "mttr_within_1h_pct": pct(sum(abs(d) <= 1 for d in diffs), len(timed)),
    }


APPROX = ("median_mttr", "median_wall_hours", "median_mttr_minus_wall", "p90_abs_mttr_minus_wall")


def assert_matrix(got: list[dict], closed: list[Closed], group: str, p_from: date | None, p_to: date | None) -> None:
    window = [c for c in closed if (p_from is None or c.closed_on >= p_from) and (p_to is None or c.closed_on <= p_to)]
    by_value: dict[str | None, list[Closed]] = defaultdict(list)
    for c in window:
        by_value[getattr(c, group)].append(c)
    expected = {(True, None): expected_matrix(window)} | {(False, k): expected_matrix(v) for k, v in by_value.items()}
    found = {(r["is_total"], r["group_value"]): r for r in got}
    assert len(found) == len(got) and found.keys() == expected.keys(), (group, found.keys(), expected.keys())
    for key, want in expected.items():
        have = found[key]
        for column, value in want.items():
            if column in APPROX and value is not None:
                # percentile_cont runs in double precision; the function rounds to 2 decimals
                assert have[column] is not None and abs(have[column] - Decimal(float(value))) <= Decimal("0.0051"), \
                    (group, key, column, have[column], float(value))
            else:
                assert have[column] == value, (group, key, column, have[column], value)
    # the total first, then the largest groups
    assert got[0]["is_total"] and [r["closed"] for r in got[1:]] == sorted((r["closed"] for r in got[1:]), reverse=True)


def eat_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=EAT)


def expected_compliance(r: Replay, dataset: str, grain: str, p_from: date | None, p_to: date | None,
                        as_of: datetime) -> list[dict]:
    step = 7 if grain == "week" else 1

    def start_of(day: date) -> date:
        return day - timedelta(days=day.weekday()) if grain == "week" else day

    to = p_to or as_of.astimezone(EAT).date()
    frm = p_from or start_of(to) - timedelta(days=11 * step)
    out = []
    start = start_of(frm)
    while start <= to:
        end = min(start + timedelta(days=step - 1), to)
        instant = min(eat_midnight(end + timedelta(days=1)), as_of) if eat_midnight(start) < as_of else None
        closures = [c for c in r.closed if frm <= c.closed_on <= to and start_of(c.closed_on) == start]
        rw, rb = (sum(c.rule == v for c in closures) for v in ("within_sla", "breached"))
        sw, sb = (sum(c.source == v for c in closures) for v in ("within_sla", "breached"))
        known = dataset == "inc" and instant is not None and r.history_start is not None \
            and instant >= r.history_start
        open_now = [tid for tid in r.clock if r.bucket_at(tid, instant) == "pending"] if known else []
        out.append({
            "period_start": start, "period_end": end, "closed": len(closures),
            "rule_within": rw, "rule_breached": rb, "no_clock": sum(c.rule == "no_clock" for c in closures),
            "rule_within_pct": pct(rw, rw + rb), "source_within": sw, "source_breached": sb,
            "source_within_pct": pct(sw, sw + sb),
            "open_as_of": instant if dataset == "inc" else None,
            "open_at_end": len(open_now) if known else None,
            "open_breached_at_end": sum(r.clock[t] is not None and instant - r.clock[t] >= SLA for t in open_now)
            if known else None,
        })
        start += timedelta(days=step)
    return out


DAYS = st.dates(date(2026, 5, 29), date(2026, 6, 19))
AS_OF = st.one_of(
    st.integers(-2 * 24 * 3600, 20 * 24 * 3600).map(lambda s: START + timedelta(seconds=s)),
    st.integers(0, 18).map(lambda d: eat_midnight(date(2026, 6, 1) + timedelta(days=d))),  # exactly a period's end
    st.integers(14 * 24 * 3600, 19 * 24 * 3600).map(lambda s: START + timedelta(seconds=s)),  # after the last file
)


@pytest.mark.timeout(900)  # passing takes seconds; shrinking a failure may take Hypothesis up to its 5-minute limit
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          database=None)
@given(plans=st.lists(TICKETS, min_size=1, max_size=25), window=st.tuples(st.none() | DAYS, st.none() | DAYS),
       as_of=AS_OF, session_tz=st.sampled_from(["UTC", "Africa/Nairobi", "America/Los_Angeles", "Asia/Kolkata"]))
def test_both_functions_equal_an_independent_computation_on_generated_streams(db, plans, window, as_of,
                                                                                 session_tz):
    check_stream(db, plans, window, as_of, session_tz)


def check_stream(db: psycopg.Connection, plans: list[dict], window: tuple[date | None, date | None],
                 as_of: datetime, session_tz: str) -> None:
    """Both functions against the oracle on the stream the plans build, in INC and in CRQ."""
    reset(db)
    db.execute(f"SET TimeZone = '{session_tz}'")
    p_from, p_to = window
    if p_from and p_to and p_from > p_to:
        p_from, p_to = p_to, p_from
    for dataset, prefix in (("inc", "INC"), ("crq", "CRQ")):
        stream = build_stream(plans, prefix)
        apply_stream(db, dataset, stream)
        r = replay(stream, dataset)
        for group in GROUPS:
            got = rows(db, "SELECT * FROM reporting.fn_sla_reconciliation(%s, %s, %s, %s)",
                       (p_from, p_to, group, dataset))
            assert_matrix(got, r.closed, group, p_from, p_to)
        # without p_to the window ends on p_as_of's day: a p_from after it is refused (tested below)
        compliance_from = None if p_to is None and p_from and p_from > as_of.astimezone(EAT).date() else p_from
        for grain in ("day", "week"):
            got = rows(db, "SELECT * FROM reporting.fn_sla_compliance(%s, %s, %s, %s, %s)",
                       (grain, compliance_from, p_to, dataset, as_of))
            expected = expected_compliance(r, dataset, grain, compliance_from, p_to, as_of)
            assert got == expected, (dataset, grain, compliance_from, p_to, as_of)
            if dataset == "inc" and grain == "day" and currently_in_test_context():  # steer towards open tickets
                target(float(sum(e["open_at_end"] or 0 for e in expected)), label="open at the ends of days")


def _plan(first: int, closed_first: tuple | None = None, steps: tuple = ()) -> dict:
    """One ticket of a generated stream, with fixed values for what the case does not vary."""
    return {"first": first, "age": 0, "clock": "cas", "closed_first": closed_first, "team": "FS Nairobi West",
            "owner": "Brian Otieno", "region": "nairobi", "category": "No Service", "priority": "P1",
            "steps": list(steps)}


BAD_CLOSE = (("bad", 0), "Within SLA", None)  # closed, closed_at unparseable
SAME_ROUTE = ("reroute", 1, "FS Nairobi West", "Brian Otieno")  # carried again, nothing changed


def test_a_closure_without_closed_at_is_dated_by_the_last_file_that_carried_the_row(db):
    """Found by the property test (seed 184310463497965022270428857274001814820), shrunk: a ticket
    first seen closed with an unparseable closed_at, then carried unchanged by the next two files.
    CRQ has no history, so no closing file: the closure's day is that of the row's file time, the
    last file that carried it (file 2), even though its content last changed in file 0. INC dates it
    by its closing history row (file 0). The oracle once took the last change for CRQ."""
    plans = [_plan(0), _plan(0, BAD_CLOSE, (SAME_ROUTE, SAME_ROUTE))]
    as_of = file_ts(0)
    check_stream(db, plans, (None, None), as_of, "UTC")
    check_stream(db, plans, (None, None), file_ts(2), "Africa/Nairobi")
    check_stream(db, plans, (file_ts(2).date(), file_ts(2).date()), file_ts(3), "UTC")
    day = {"inc": file_ts(0).date(), "crq": file_ts(2).date()}
    assert day["inc"] != day["crq"]  # 2026-06-01 06:00 and 2026-06-02 04:00 EAT
    for dataset, closed_on in day.items():
        (total,) = rows(db, "SELECT closed, no_clock FROM reporting.fn_sla_reconciliation(%s, %s, 'region', %s)"
                            " WHERE is_total", (closed_on, closed_on, dataset))
        assert total == {"closed": 1, "no_clock": 1}, dataset
        got = rows(db, "SELECT period_start, closed FROM reporting.fn_sla_compliance('day', %s, %s, %s, %s)",
                   (day["inc"], day["crq"], dataset, file_ts(3)))
        assert got == [{"period_start": d, "closed": int(d == closed_on)} for d in sorted(day.values())], dataset


# -- the definitions, one case at a time ---------------------------------------------------------

T0 = datetime(2026, 6, 8, 9, 0, tzinfo=EAT)  # a Monday


def _closed(tid: str, wall: timedelta | None, verdict: str | None, mttr: str | None, **values) -> dict:
    cas = T0 - timedelta(days=1)
    return raw_row(tid, bucket="closed", raw_status="CLOSED", created_at_service=cas if wall is not None else None,
                   closed_at=cas + (wall if wall is not None else 10 * H), sla_status=verdict, mttr=mttr,
                   first_seen_at=cas, **values)


def test_the_matrix_at_the_rules_edges(db):
    apply_rows(db, "inc", T0, [
        _closed("INC-48H", SLA, "Within SLA", "48.00"),  # exactly 48 h is within
        _closed("INC-48H-1S", SLA + timedelta(seconds=1), " within sla", "30.00"),  # source within, rule breached
        _closed("INC-60H", 60 * H, "WITHIN SLA", "59.00"),  # the same, further out: the example
        _closed("INC-FAST", 2 * H, "Breached", "3.00"),  # source breached, rule within: the example
        _closed("INC-SLOW", 50 * H, "BREACHED ", "48.99"),  # both breached
        _closed("INC-NO-CLOCK", None, "Within SLA", "4.00"),  # no created_at_service: apart, never guessed
        _closed("INC-VENDOR", 5 * H, "Met by vendor", "6.01"),  # a clock, but no usable verdict
        _closed("INC-BLANK", 5 * H, None, "n/a"),
    ])
    (total, nairobi) = rows(db, "SELECT * FROM reporting.fn_sla_reconciliation(p_group => 'region')")
    assert {k: v for k, v in total.items() if k != "group_value"} == {k: v for k, v in nairobi.items()
                                                                     if k != "group_value"} | {"is_total": True}
    assert nairobi["group_value"] == "nairobi"
    assert {k: total[k] for k in ("closed", "no_clock", "no_verdict", "compared", "agree_within", "agree_breached",
                                  "source_within_rule_breached", "source_breached_rule_within", "agree_pct",
                                  "disagree_pct", "example_source_within_rule_breached",
                                  "example_source_breached_rule_within")} == {
        "closed": 8, "no_clock": 1, "no_verdict": 2, "compared": 5, "agree_within": 1, "agree_breached": 1,
        "source_within_rule_breached": 2, "source_breached_rule_within": 1, "agree_pct": Decimal("40.0"),
        "disagree_pct": Decimal("60.0"), "example_source_within_rule_breached": "INC-60H",
        "example_source_breached_rule_within": "INC-FAST"}
    # mttr - wall hours over the six tickets with both: 0, -18.0003, -1, +1, -1.01, +1.01; three within +-1 h
    assert {k: total[k] for k in ("mttr_compared", "median_mttr", "median_wall_hours", "median_mttr_minus_wall",
                                  "p90_abs_mttr_minus_wall", "mttr_within_1h_pct")} == {
        "mttr_compared": 6, "median_mttr": Decimal("39.00"), "median_wall_hours": Decimal("48.00"),
        "median_mttr_minus_wall": Decimal("-0.50"), "p90_abs_mttr_minus_wall": Decimal("9.51"),
        "mttr_within_1h_pct": Decimal("50.0")}

    by_week = rows(db, "SELECT period_start, closed, rule_within, rule_breached, no_clock, rule_within_pct,"
                       " source_within, source_breached, source_within_pct"
                       " FROM reporting.fn_sla_compliance('week', '2026-06-01', '2026-06-14', p_as_of => %s)",
                   (T0 + 7 * 24 * H,))
    # the clocks start on Sunday 7 June: the short ones close that day, in the week of 1 June
    assert by_week == [
        {"period_start": date(2026, 6, 1), "closed": 4, "rule_within": 3, "rule_breached": 0, "no_clock": 1,
         "rule_within_pct": Decimal("100.0"), "source_within": 1, "source_breached": 1,
         "source_within_pct": Decimal("50.0")},
        {"period_start": date(2026, 6, 8), "closed": 4, "rule_within": 1, "rule_breached": 3, "no_clock": 0,
         "rule_within_pct": Decimal("25.0"), "source_within": 3, "source_breached": 1,
         "source_within_pct": Decimal("75.0")},
    ]


def test_open_tickets_are_counted_as_of_each_period_end_not_as_of_now(db):
    monday = datetime(2026, 6, 1, 6, 0, tzinfo=EAT)
    opened = dict(bucket="pending", raw_status="NEW", assigned_team="FS Nairobi West")
    apply_rows(db, "inc", monday, [
        raw_row("INC-LONG", created_at_service=monday - 10 * H, first_seen_at=monday, **opened),
        raw_row("INC-SHORT", created_at_service=monday + 132 * H, first_seen_at=monday, **opened),
        raw_row("INC-FALLBACK", created_at_service=None, first_seen_at=monday - 3 * 24 * H, **opened),
    ])
    # closed during the second week: open and breached at the end of the first, closed now
    apply_rows(db, "inc", monday + 8 * 24 * H, [
        raw_row(tid, bucket="closed", raw_status="CLOSED", created_at_service=cas, first_seen_at=fsa,
                closed_at=monday + 8 * 24 * H, sla_status="Breached", mttr="170.00", assigned_team="FS Nairobi West")
        for tid, cas, fsa in (("INC-LONG", monday - 10 * H, monday), ("INC-SHORT", monday + 132 * H, monday),
                              ("INC-FALLBACK", None, monday - 3 * 24 * H))
    ])
    now = monday + 15 * 24 * H
    got = rows(db, "SELECT period_start, closed, open_as_of, open_at_end, open_breached_at_end"
                   " FROM reporting.fn_sla_compliance('week', '2026-05-25', p_as_of => %s)", (now,))
    assert got == [
        # before the first history row nothing is known: null, not 0
        {"period_start": date(2026, 5, 25), "closed": 0, "open_as_of": datetime(2026, 6, 1, tzinfo=EAT),
         "open_at_end": None, "open_breached_at_end": None},
        # INC-SHORT's clock started on Saturday 18:00: 30 h by Monday 00:00, not breached yet; the
        # fallback clock (first_seen_at) of INC-FALLBACK is
        {"period_start": date(2026, 6, 1), "closed": 0, "open_as_of": datetime(2026, 6, 8, tzinfo=EAT),
         "open_at_end": 3, "open_breached_at_end": 2},
        {"period_start": date(2026, 6, 8), "closed": 3, "open_as_of": datetime(2026, 6, 15, tzinfo=EAT),
         "open_at_end": 0, "open_breached_at_end": 0},
        # the current week ends at p_as_of
        {"period_start": date(2026, 6, 15), "closed": 0, "open_as_of": now, "open_at_end": 0,
         "open_breached_at_end": 0},
    ]
    # a period that starts after p_as_of has no end yet; CRQ keeps no history at all
    (later,) = rows(db, "SELECT open_as_of, open_at_end FROM reporting.fn_sla_compliance('day', '2026-06-17',"
                        " '2026-06-17', p_as_of => %s)", (now,))
    assert later == {"open_as_of": None, "open_at_end": None}
    crq = rows(db, "SELECT DISTINCT open_as_of, open_at_end, open_breached_at_end"
                   " FROM reporting.fn_sla_compliance('day', p_dataset => 'crq', p_as_of => %s)", (now,))
    assert crq == [{"open_as_of": None, "open_at_end": None, "open_breached_at_end": None}]


def test_the_view_gives_the_same_team_and_day_as_the_closure_attribution(db):
    """tickets.sla_closures restates tickets.inc_closures with per-ticket probes: the same answer."""
    stream = team_stream(seed=9, tickets=300, files=12, start=T0)
    for ts, file_rows in stream:
        apply_rows(db, "inc", ts, file_rows)
    db.execute("UPDATE tickets.inc SET raw = raw || '{\"closed_at\": \"not a time\"}'"
               " WHERE ticket_id IN (SELECT ticket_id FROM tickets.inc WHERE bucket = 'closed' LIMIT 20)")
    attribution = {r[0]: r[1:] for r in db.execute("SELECT ticket_id, team, closed_on FROM tickets.inc_closures")}
    restated = {r[0]: r[1:] for r in db.execute(
        "SELECT ticket_id, team, closed_on FROM tickets.sla_closures WHERE dataset = 'inc'")}
    assert restated == attribution and len(attribution) > 100


@pytest.mark.parametrize(("call", "argument"), [
    ("reporting.fn_sla_reconciliation(p_group => 'cluster')", "p_group"),
    ("reporting.fn_sla_reconciliation(p_group => NULL)", "p_group"),
    ("reporting.fn_sla_reconciliation(p_dataset => 'INC')", "p_dataset"),
    ("reporting.fn_sla_reconciliation('2026-06-10', '2026-06-01')", "p_from"),
    ("reporting.fn_sla_compliance('month')", "p_grain"),
    ("reporting.fn_sla_compliance(NULL)", "p_grain"),
    ("reporting.fn_sla_compliance('week', p_dataset => 'tickets')", "p_dataset"),
    ("reporting.fn_sla_compliance('day', '2026-06-10', '2026-06-01')", "p_from"),
    # without p_to the window ends on p_as_of's EAT day
    ("reporting.fn_sla_compliance('day', '2026-06-10', p_as_of => '2026-06-09 12:00+03')", "p_from"),
])
def test_bad_arguments_are_refused_by_name(db, call, argument):
    with pytest.raises(errors.InvalidParameterValue, match=rf"^{argument} must") as refused:
        db.execute(f"SELECT * FROM {call}")  # noqa: S608
    assert refused.value.sqlstate == "22023"


def test_dashboard_api_calls_both_as_the_read_only_owner(db):
    apply_rows(db, "inc", T0, [_closed("INC-1", 3 * H, "Within SLA", "2.50")])
    found = rows(db, "SELECT p.proname, p.prosecdef, p.proconfig, p.proowner::regrole::text AS owner,"
                     " has_function_privilege('dashboard_api', p.oid, 'EXECUTE') AS dashboard,"
                     " EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0) AS public"
                     " FROM pg_proc p WHERE p.pronamespace = 'reporting'::regnamespace"
                     " AND p.proname IN ('fn_sla_reconciliation', 'fn_sla_compliance') ORDER BY 1")
    assert [f["proname"] for f in found] == ["fn_sla_compliance", "fn_sla_reconciliation"]
    for f in found:
        assert f["prosecdef"] and f["dashboard"] and not f["public"] and f["owner"] == "fleettickets_report_owner"
        assert "search_path=pg_catalog, public, pg_temp" in f["proconfig"]
    assert not db.execute("SELECT has_table_privilege('dashboard_api', 'tickets.sla_closures', 'SELECT')").fetchone()[0]
    db.execute("SET ROLE dashboard_api")
    try:
        (total,) = rows(db, "SELECT closed, agree_within FROM reporting.fn_sla_reconciliation(p_group => 'team')"
                            " WHERE is_total")
        assert total == {"closed": 1, "agree_within": 1}
        week = rows(db, "SELECT closed, rule_within FROM reporting.fn_sla_compliance('week', '2026-06-01',"
                        " '2026-06-07', p_as_of => %s)", (T0 + 24 * H,))
        assert week == [{"closed": 1, "rule_within": 1}]
        with pytest.raises(errors.InsufficientPrivilege):
            db.execute("SELECT 1 FROM tickets.sla_closures")
    finally:
        db.execute("RESET ROLE")


# -- the `<ds>-sla` artifact -------------------------------------------------------------------


def test_the_weekly_report_is_the_two_functions_side_by_side(db):
    stream = build_stream([
        {"first": k % FILES, "age": 3600 * (k % 50), "clock": ("cas", "none", "cas")[k % 3], "team": TEAMS[k % 5],
         "owner": None, "region": "nairobi", "category": None, "priority": "P2", "closed_first": None,
         "steps": [("close", 1 + k % 3, (("wall", 3600 * (10 + 7 * k % 80)), ("Within SLA", "Breached")[k % 2],
                                          None))]}
        for k in range(60)], "INC")
    apply_stream(db, "inc", stream)
    as_of = datetime(2026, 6, 10, 15, 0, tzinfo=EAT)  # a Wednesday
    report = sla_report(db, "inc", as_of)
    assert (report.current.week_start, report.current.week_end) == (date(2026, 6, 8), date(2026, 6, 10))
    assert (report.previous.week_start, report.previous.week_end) == (date(2026, 6, 1), date(2026, 6, 7))
    for week in (report.current, report.previous):
        (c,) = rows(db, "SELECT * FROM reporting.fn_sla_compliance('week', %s, %s, 'inc', %s)",
                    (week.week_start, week.week_end, as_of))
        (m,) = rows(db, "SELECT * FROM reporting.fn_sla_reconciliation(%s, %s, 'team') WHERE is_total",
                    (week.week_start, week.week_end))
        assert (week.closed, week.rule_within_pct, week.source_within_pct, week.open_breached_at_end) == \
            (c["closed"], c["rule_within_pct"], c["source_within_pct"], c["open_breached_at_end"])
        assert (week.compared, week.disagree_pct) == (m["compared"], m["disagree_pct"])
        assert week.disagreements == m["source_within_rule_breached"] + m["source_breached_rule_within"]
    assert report.previous.closed > 10 and report.previous.disagreements > 0
    assert report.table()[1]["week"] == "2026-06-01 .. 2026-06-07"
    assert f"{report.current.closed} closed" in report.description()


def test_an_ingest_run_publishes_its_sla_artifact(db, settings, s3, tmp_path):
    """`inc-sla`, read back through the Prefect API after a real ingest run (CRQ runs the same code)."""
    upload(s3, settings.s3_bucket, "inc", write_stream("inc", tmp_path, rows=200, deltas=1, delta_rows=40, seed=31))
    assert INGEST_FLOWS["inc"](geocode=False).status == "completed"
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["inc-sla"])),
                                            sort=ArtifactSort.CREATED_DESC, limit=1)
    expected = sla_report(db, "inc")
    assert artifact.type == "table" and artifact.description.startswith("**inc SLA, week of")
    assert (artifact.data if isinstance(artifact.data, list) else json.loads(artifact.data)) == expected.table()
