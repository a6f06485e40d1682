"""The reporting functions (migrations/04_reporting.sql, 05_roles.sql): SLA state, the map, nearest
open tickets, team closure attribution, the SLA summary, and who may call what."""

from __future__ import annotations

import json
import math
import random
import statistics
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from geopy.distance import geodesic
from psycopg import errors

from fleettickets.migrate import MIGRATIONS_DIR
from fleettickets.sample import write_stream
from tests import oracle
from tests.reporting_fixtures import (
    AS_OF,
    EAT,
    apply_csv,
    apply_rows,
    expected_closures,
    insert,
    raw_row,
    team_stream,
    ticket,
)

H = timedelta(hours=1)
SLA_COLUMNS = "sla_state, sla_clock, clock_started_at, breach_at, age_hours, hours_to_breach, sla_status, mttr"


def _parse_eat(text: str | None) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=EAT) if text else None
    except ValueError:
        return None


def sla_oracle(raw: dict, as_of: datetime) -> str:
    """The contract's rule, written independently of the SQL."""
    if raw["bucket"] == "closed":
        return "closed"
    clock = _parse_eat(raw["created_at_service"]) or _parse_eat(raw["first_seen_at"])
    if raw["bucket"] != "pending" or clock is None:
        return "unknown"
    age = as_of - clock
    return "breached" if age >= 48 * H else "at_risk" if age >= 36 * H else "on_track"


def rows(conn: psycopg.Connection, query: str, params: tuple | dict = ()) -> list[dict]:
    cur = conn.execute(query, params)
    names = [c.name for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def sla_by_ticket(conn: psycopg.Connection, as_of: datetime | None) -> dict[str, dict]:
    args = "i.bucket, i.created_at_service, i.first_seen_at, i.sla_status, i.mttr"
    call = f"reporting.fn_sla_state({args}, %s)" if as_of else f"reporting.fn_sla_state({args})"
    found = rows(conn, f"SELECT i.ticket_id, s.* FROM tickets.all_tickets i CROSS JOIN LATERAL {call} s",  # noqa: S608
                 (as_of,) if as_of else ())
    return {r.pop("ticket_id"): r for r in found}


# -- SLA state -------------------------------------------------------------------------------


def test_sla_state_at_the_36_and_48_hour_boundaries(db):
    insert(db, "inc", [
        ticket("INC-36", created_at_service=AS_OF - 36 * H),
        ticket("INC-36-minus-1s", created_at_service=AS_OF - 36 * H + timedelta(seconds=1)),
        ticket("INC-48", created_at_service=AS_OF - 48 * H),
        ticket("INC-48-minus-1s", created_at_service=AS_OF - 48 * H + timedelta(seconds=1)),
        ticket("INC-fallback", created_at_service=None, first_seen_at=AS_OF - 40 * H),
        ticket("INC-cas-wins", created_at_service=AS_OF - 10 * H, first_seen_at=AS_OF - 60 * H),
        ticket("INC-bad-cas", created_at_service="2026-02-30 10:00:00", first_seen_at=AS_OF - 50 * H),
        ticket("INC-no-clock", created_at_service=None, first_seen_at=None),
        ticket("INC-future", created_at_service=AS_OF + 2 * H),
        ticket("INC-odd-bucket", bucket="on hold", created_at_service=AS_OF - 50 * H),
    ])
    got = sla_by_ticket(db, AS_OF)
    summary = {k: (v["sla_state"], v["sla_clock"], v["age_hours"], v["hours_to_breach"]) for k, v in got.items()}
    assert summary == {
        "INC-36": ("at_risk", "created_at_service", Decimal("36.00"), Decimal("12.00")),
        "INC-36-minus-1s": ("on_track", "created_at_service", Decimal("35.99"), Decimal("12.01")),
        "INC-48": ("breached", "created_at_service", Decimal("48.00"), Decimal("0.00")),
        "INC-48-minus-1s": ("at_risk", "created_at_service", Decimal("47.99"), Decimal("0.01")),
        "INC-fallback": ("at_risk", "first_seen_at", Decimal("40.00"), Decimal("8.00")),
        "INC-cas-wins": ("on_track", "created_at_service", Decimal("10.00"), Decimal("38.00")),
        "INC-bad-cas": ("breached", "first_seen_at", Decimal("50.00"), Decimal("-2.00")),
        "INC-no-clock": ("unknown", None, None, None),
        "INC-future": ("on_track", "created_at_service", Decimal("-2.00"), Decimal("50.00")),
        "INC-odd-bucket": ("unknown", None, None, None),
    }
    assert got["INC-48"]["clock_started_at"] == AS_OF - 48 * H
    assert got["INC-48"]["breach_at"] == AS_OF
    assert got["INC-fallback"]["breach_at"] == AS_OF + 8 * H

    # one definition: the map and the summary say the same as fn_sla_state
    mapped = rows(db, "SELECT * FROM reporting.fn_tickets_for_map(p_status => 'all', p_as_of => %s)", (AS_OF,))
    assert {r["ticket_id"]: {c: r[c] for c in SLA_COLUMNS.split(", ")} for r in mapped} == got
    (summary_row,) = rows(db, "SELECT * FROM reporting.fn_sla_summary(p_as_of => %s)", (AS_OF,))
    states = [v["sla_state"] for k, v in got.items() if k != "INC-odd-bucket"]
    assert (summary_row["open"], summary_row["on_track"], summary_row["at_risk"], summary_row["breached"],
            summary_row["unknown"]) == (9, states.count("on_track"), states.count("at_risk"),
                                        states.count("breached"), states.count("unknown"))
    assert (summary_row["oldest_ticket_id"], summary_row["oldest_age_hours"]) == ("INC-bad-cas", Decimal("50.00"))


def test_sla_state_is_evaluated_against_now_by_default(db):
    now = datetime.now(EAT)
    insert(db, "crq", [
        ticket("CRQ-47h", created_at_service=now - 47 * H),
        ticket("CRQ-49h", created_at_service=now - 49 * H),
        ticket("CRQ-35h", created_at_service=None, first_seen_at=now - 35 * H),
    ])
    got = {k: v["sla_state"] for k, v in sla_by_ticket(db, None).items()}
    assert got == {"CRQ-47h": "at_risk", "CRQ-49h": "breached", "CRQ-35h": "on_track"}
    mapped = rows(db, "SELECT ticket_id, sla_state FROM reporting.fn_tickets_for_map()")
    assert {r["ticket_id"]: r["sla_state"] for r in mapped} == got
    mapped = rows(db, "SELECT ticket_id, sla_state FROM reporting.fn_tickets_for_map(p_as_of => NULL)")
    assert {r["ticket_id"]: r["sla_state"] for r in mapped} == got


@pytest.mark.parametrize("session_tz", ["UTC", "Africa/Nairobi", "America/Los_Angeles", "Asia/Kolkata"])
def test_eat_timestamps_across_midnight_whatever_the_session_time_zone(db, session_tz):
    db.execute(f"SET TimeZone = '{session_tz}'")
    # 01:30 EAT on the 15th is 22:30 UTC on the 14th
    insert(db, "inc", [
        ticket("INC-after-midnight", created_at_service="2026-06-15 01:30:00"),
        ticket("INC-closed-after-midnight", bucket="closed", created_at_service="2026-06-14 20:00:00",
               closed_at="2026-06-15 01:30:00", sla_status="Within SLA", mttr="5.50"),
        ticket("INC-closed-before-midnight", bucket="closed", created_at_service="2026-06-14 20:00:00",
               closed_at="2026-06-14 23:30:00", sla_status="Breached", mttr="3.50"),
    ])
    cas = db.execute("SELECT created_at_service FROM tickets.inc WHERE ticket_id = 'INC-after-midnight'").fetchone()[0]
    assert cas == datetime.fromisoformat("2026-06-14T22:30:00+00:00")
    # exactly 36 h later, asked in EAT or in UTC: the same instant, the same answer
    for as_of in ("2026-06-16 13:30:00+03", "2026-06-16 10:30:00+00"):
        (r,) = rows(db, "SELECT * FROM reporting.fn_tickets_for_map(p_as_of => %s::timestamptz)", (as_of,))
        assert (r["sla_state"], r["age_hours"], r["hours_to_breach"]) == ("at_risk", Decimal("36.00"),
                                                                          Decimal("12.00"))
    # closures fall on the EAT day and the EAT week (2026-06-15 is a Monday)
    got = {r["ticket_id"]: r["closed_on"] for r in rows(db, "SELECT * FROM reporting.fn_inc_closures()")}
    assert got == {"INC-closed-after-midnight": date(2026, 6, 15), "INC-closed-before-midnight": date(2026, 6, 14)}
    weeks = rows(db, "SELECT period_start, closed, within_sla, breached FROM reporting.fn_team_closures('week')")
    assert weeks == [
        {"period_start": date(2026, 6, 8), "closed": 1, "within_sla": 0, "breached": 1},
        {"period_start": date(2026, 6, 15), "closed": 1, "within_sla": 1, "breached": 0},
    ]
    assert [r["ticket_id"] for r in rows(db, "SELECT * FROM reporting.fn_inc_closures('2026-06-15', '2026-06-15')")] \
        == ["INC-closed-after-midnight"]


def test_closed_tickets_keep_the_source_verdict_and_are_never_recomputed(db):
    insert(db, "inc", [
        # closed fast, yet the source says breached; and the reverse: the source wins
        ticket("INC-fast-but-breached", bucket="closed", raw_status="CLOSED", created_at_service=AS_OF - 3 * H,
               closed_at=AS_OF - 2 * H, sla_status="Breached", mttr="0.50"),
        ticket("INC-slow-but-within", bucket="closed", raw_status="RESOLVED", created_at_service=AS_OF - 200 * H,
               closed_at=AS_OF - 100 * H, sla_status="Within SLA ", mttr="31.25"),
        ticket("INC-no-verdict", bucket="closed", created_at_service=AS_OF - 90 * H, closed_at=AS_OF - H,
               sla_status=None, mttr="not a number"),
    ])
    expected = {
        "INC-fast-but-breached": ("Breached", Decimal("0.50")),
        "INC-slow-but-within": ("Within SLA ", Decimal("31.25")),
        "INC-no-verdict": (None, None),
    }
    for got in (sla_by_ticket(db, AS_OF),
                {r["ticket_id"]: r for r in rows(
                    db, "SELECT * FROM reporting.fn_tickets_for_map(p_status => 'closed', p_as_of => %s)", (AS_OF,))}):
        assert {k: (v["sla_status"], v["mttr"]) for k, v in got.items()} == expected
        for v in got.values():
            assert v["sla_state"] == "closed"
            assert (v["sla_clock"], v["clock_started_at"], v["breach_at"], v["age_hours"], v["hours_to_breach"]) \
                == (None, None, None, None, None)


# -- the map ---------------------------------------------------------------------------------

NAIROBI_BOX = [36.6, -1.5, 37.0, -1.1]


def _map_fixture(db) -> None:
    insert(db, "inc", [
        ticket("INC-A", -1.2906, 36.7856, created_at_service=AS_OF - 60 * H, priority="P3"),
        ticket("INC-B", -4.0420, 39.7050, region="coast", cluster="Nyali", created_at_service=AS_OF - 40 * H),
        ticket("INC-C", -1.2676, 36.8108, "plus_code", cluster="Westlands", created_at_service=AS_OF - 5 * H,
               priority="P1"),
        ticket("INC-D", -1.3100, 36.8380, bucket="closed", created_at_service=AS_OF - 30 * H,
               closed_at=AS_OF - 2 * H, sla_status="Within SLA", mttr="12.00"),
        ticket("INC-E", created_at_service=None, first_seen_at=None),
        ticket("INC-F", bucket=None, created_at_service=AS_OF - 5 * H),
    ])
    insert(db, "crq", [
        ticket("CRQ-A", created_at_service=AS_OF - 50 * H),
        ticket("CRQ-B", -1.3, 36.8, "cluster", created_at_service=AS_OF - 5 * H, priority="P2"),
        ticket("CRQ-C", -4.06, 39.66, region="coast", cluster="Mombasa CBD", bucket="closed",
               created_at_service=AS_OF - 30 * H, closed_at=AS_OF - H, sla_status="Breached", mttr="29.00"),
    ])


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, ["INC-A", "CRQ-A", "INC-B", "INC-C", "CRQ-B", "INC-E"]),
    ({"p_status": "all"}, ["INC-A", "CRQ-A", "INC-B", "INC-C", "CRQ-B", "INC-E", "INC-F", "CRQ-C", "INC-D"]),
    ({"p_status": "closed"}, ["CRQ-C", "INC-D"]),
    ({"p_datasets": ["crq"]}, ["CRQ-A", "CRQ-B"]),
    ({"p_datasets": ["inc", "crq"], "p_limit": 2}, ["INC-A", "CRQ-A"]),
    ({"p_status": "all", "p_limit": 7}, ["INC-A", "CRQ-A", "INC-B", "INC-C", "CRQ-B", "INC-E", "INC-F"]),
    ({"p_status": "closed", "p_limit": 1}, ["CRQ-C"]),
    ({"p_sla_states": ["breached", "at_risk"]}, ["INC-A", "CRQ-A", "INC-B"]),
    ({"p_sla_states": ["unknown"], "p_status": "all"}, ["INC-E", "INC-F"]),
    ({"p_sla_states": ["closed"], "p_status": "all"}, ["CRQ-C", "INC-D"]),
    ({"p_region": " COAST ", "p_status": "all"}, ["INC-B", "CRQ-C"]),
    ({"p_cluster": "Kilimani"}, ["INC-A", "CRQ-A", "CRQ-B", "INC-E"]),
    ({"p_bbox": NAIROBI_BOX}, ["INC-A", "INC-C", "CRQ-B"]),
    ({"p_bbox": NAIROBI_BOX, "p_status": "closed"}, ["INC-D"]),
    ({"p_bbox": [36.78, -1.30, 36.79, -1.28]}, ["INC-A"]),
])
def test_map_filters_and_order(db, kwargs, expected):
    _map_fixture(db)
    args = ", ".join(f"{k} => %({k})s" for k in kwargs)
    args += ", " if args else ""
    query = f"SELECT ticket_id FROM reporting.fn_tickets_for_map({args}p_as_of => %(as_of)s)"  # noqa: S608
    assert [r["ticket_id"] for r in rows(db, query, {**kwargs, "as_of": AS_OF})] == expected


def test_map_rows_carry_position_precision_and_sla(db):
    _map_fixture(db)
    got = {r["ticket_id"]: r for r in rows(
        db, "SELECT * FROM reporting.fn_tickets_for_map(p_status => 'all', p_as_of => %s)", (AS_OF,))}
    a = got["INC-A"]
    assert (a["dataset"], a["bucket"], a["raw_status"], a["region"], a["cluster"]) == \
        ("inc", "pending", "NEW", "nairobi", "Kilimani")
    assert (a["latitude"], a["longitude"], a["geom_precision"]) == (-1.2906, 36.7856, "location")
    assert a["geom"] is not None
    assert (a["sla_state"], a["sla_clock"], a["age_hours"], a["hours_to_breach"]) == \
        ("breached", "created_at_service", Decimal("60.00"), Decimal("-12.00"))
    assert (a["assigned_team"], a["owner"], a["priority"], a["summary"]) == \
        (None, "Service Desk", "P3", "No internet since morning")
    assert got["CRQ-A"]["latitude"] is None and got["CRQ-A"]["geom_precision"] is None
    assert got["INC-C"]["geom_precision"] == "plus_code"
    assert (got["INC-D"]["closed_at"], got["INC-D"]["sla_status"], got["INC-D"]["mttr"]) == \
        (AS_OF - 2 * H, "Within SLA", Decimal("12.00"))


def test_map_updated_since_means_loaded_or_geocoded_since(db):
    _map_fixture(db)
    db.execute("UPDATE tickets.inc SET last_loaded_at = now() - interval '2 days'")
    db.execute("UPDATE tickets.crq SET last_loaded_at = now() - interval '2 days'")
    db.execute("UPDATE tickets.inc SET last_loaded_at = now() WHERE ticket_id = 'INC-B'")
    db.execute("UPDATE tickets.crq_placement SET geocoded_at = now() WHERE ticket_id = 'CRQ-B'")
    got = rows(db, "SELECT ticket_id FROM reporting.fn_tickets_for_map(p_status => 'all',"
                   " p_updated_since => now() - interval '1 hour', p_as_of => %s)", (AS_OF,))
    assert [r["ticket_id"] for r in got] == ["INC-B", "CRQ-B"]


@pytest.mark.parametrize("call", [
    "reporting.fn_tickets_for_map(p_status => 'pending')",
    "reporting.fn_tickets_for_map(p_status => NULL)",
    "reporting.fn_tickets_for_map(p_datasets => ARRAY['inc', 'tickets'])",
    "reporting.fn_tickets_for_map(p_sla_states => ARRAY['late'])",
    "reporting.fn_tickets_for_map(p_bbox => ARRAY[36.0, -1.0, 37.0])",
    "reporting.fn_tickets_for_map(p_bbox => ARRAY[37.0, -1.0, 36.0, -0.5])",
    "reporting.fn_tickets_for_map(p_limit => -1)",
    "reporting.fn_nearest_open_tickets(95, 36.8)",
    "reporting.fn_nearest_open_tickets(-1.3, 36.8, 0)",
    "reporting.fn_nearest_open_tickets(-1.3, 36.8, 5, p_max_km => 0)",
    "reporting.fn_nearest_open_tickets(-1.3, 36.8, 5, p_sla_states => ARRAY['closed'])",
    "reporting.fn_nearest_open_tickets(-1.3, 36.8, 5, p_precisions => ARRAY['gps'])",
    "reporting.fn_sla_summary(p_datasets => ARRAY['INC'])",
    "reporting.fn_team_closures('month')",
])
def test_bad_arguments_are_refused_by_name(db, call):
    with pytest.raises(errors.InvalidParameterValue, match=r"p_\w+ must"):
        db.execute(f"SELECT * FROM {call}")  # noqa: S608


# -- nearest open tickets ----------------------------------------------------------------------

SPHERE_RADIUS_M = 6371008.7714  # PostGIS's sphere for geography (<->, use_spheroid => false)


def _sphere_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * SPHERE_RADIUS_M * math.asin(math.sqrt(a))


def _generated_points(seed: int) -> dict[str, list]:
    rng = random.Random(seed)
    out: dict[str, list] = {"inc": [], "crq": []}
    for ds, count in (("inc", 1200), ("crq", 800)):
        for k in range(count):
            if rng.random() < 0.8:
                lat, lon = rng.uniform(-1.45, -1.15), rng.uniform(36.65, 37.0)
            else:
                lat, lon = rng.uniform(-4.1, -3.95), rng.uniform(39.6, 39.75)
            has_geom = rng.random() > 0.05
            cas = AS_OF - rng.uniform(0, 80) * H if rng.random() < 0.7 else None
            out[ds].append(ticket(
                f"{ds.upper()}{k:06d}", lat if has_geom else None, lon if has_geom else None,
                rng.choice(["location", "plus_code", "cluster"]) if has_geom else None,
                bucket="pending" if rng.random() < 0.75 else "closed",
                is_actionable="true" if rng.random() < 0.9 else "false",
                created_at_service=cas, first_seen_at=AS_OF - rng.uniform(0, 80) * H,
            ))
    # Near (-1.0, 38.0), away from everything else: a ticket due north and one due east. On the
    # sphere the east one is nearer (996 m vs 1000 m); on the spheroid the north one is (994 m vs 997 m).
    north = (-1.0 + math.degrees(1000 / SPHERE_RADIUS_M), 38.0)
    east = (-1.0, 38.0 + math.degrees(996 / (SPHERE_RADIUS_M * math.cos(math.radians(-1.0)))))
    out["inc"].append(ticket("INC-NORTH", *north, created_at_service=AS_OF - H))
    out["crq"].append(ticket("CRQ-EAST", *east, created_at_service=AS_OF - H))
    return out


def _brute_force(points: dict[str, list], lat: float, lon: float, n: int, max_km=None, datasets=None,
                 sla_states=None, precisions=None) -> list[tuple[float, str, str]]:
    ranked = []
    for ds, tickets in points.items():
        for t in tickets:
            if t.raw["bucket"] != "pending" or t.raw["is_actionable"] != "true" or t.lat is None:
                continue
            if (datasets and ds not in datasets) or (precisions and t.precision not in precisions):
                continue
            if sla_states and sla_oracle(t.raw, AS_OF) not in sla_states:
                continue
            d = geodesic((lat, lon), (t.lat, t.lon)).meters  # WGS84 geodesic (Karney)
            if max_km is None or d <= max_km * 1000:
                ranked.append((d, ds, t.ticket_id))
    return sorted(ranked)[:n]


def test_nearest_open_tickets_equal_a_brute_force_geodesic_ranking(db):
    points = _generated_points(20260617)
    for ds, tickets in points.items():
        insert(db, ds, tickets)
    db.execute("ANALYZE tickets.inc; ANALYZE tickets.crq")
    first = next(t for t in points["inc"] if t.lat is not None and t.raw["bucket"] == "pending"
                 and t.raw["is_actionable"] == "true")
    cases = [
        dict(lat=-1.2864, lon=36.8172, n=25),
        dict(lat=-1.2864, lon=36.8172, n=7, datasets=["crq"]),
        dict(lat=-1.30, lon=36.75, n=10, sla_states=["breached", "at_risk"]),
        dict(lat=-1.30, lon=36.75, n=10, precisions=["location", "plus_code"]),
        dict(lat=-1.25, lon=36.90, n=50, max_km=2.5),
        dict(lat=-4.05, lon=39.67, n=12),
        dict(lat=-4.05, lon=39.67, n=12, max_km=1.0, sla_states=["on_track"]),
        dict(lat=0.5, lon=37.5, n=3),  # far from everything: still the 3 nearest
        dict(lat=0.5, lon=37.5, n=3, max_km=50),  # nothing within 50 km
        dict(lat=first.lat, lon=first.lon, n=3),  # standing on a ticket
        dict(lat=-1.0, lon=38.0, n=1),  # the spheroid, not the sphere, decides
    ]
    north = next(t for t in points["inc"] if t.ticket_id == "INC-NORTH")
    east = next(t for t in points["crq"] if t.ticket_id == "CRQ-EAST")
    assert _sphere_m(-1.0, 38.0, east.lat, east.lon) < _sphere_m(-1.0, 38.0, north.lat, north.lon)
    assert geodesic((-1.0, 38.0), (north.lat, north.lon)).m < geodesic((-1.0, 38.0), (east.lat, east.lon)).m

    for case in cases:
        expected = _brute_force(points, **case)
        got = rows(db, "SELECT * FROM reporting.fn_nearest_open_tickets(%(lat)s, %(lon)s, %(n)s,"
                       " p_max_km => %(max_km)s, p_datasets => %(datasets)s, p_sla_states => %(sla_states)s,"
                       " p_precisions => %(precisions)s, p_as_of => %(as_of)s)",
                   {"max_km": None, "datasets": None, "sla_states": None, "precisions": None, **case,
                    "as_of": AS_OF})
        assert [(r["dataset"], r["ticket_id"]) for r in got] == [(ds, tid) for _, ds, tid in expected], case
        assert [r["rank"] for r in got] == list(range(1, len(got) + 1))
        for r, (d, _, _) in zip(got, expected, strict=True):
            assert r["distance_m"] == pytest.approx(d, abs=1e-3)
            assert r["sla_state"] == sla_oracle(
                next(t for t in points[r["dataset"]] if t.ticket_id == r["ticket_id"]).raw, AS_OF)
    assert rows(db, "SELECT ticket_id FROM reporting.fn_nearest_open_tickets(-1.0, 38.0, 1)") == \
        [{"ticket_id": "INC-NORTH"}]


# -- team closure attribution ----------------------------------------------------------------

T0 = datetime(2026, 6, 15, 6, 0, tzinfo=EAT)


def test_closure_is_credited_to_the_team_holding_the_ticket_when_it_closed(db):
    def state(tid, **values):
        return raw_row(tid, created_at_service=T0 - 5 * H, **values)

    closed = dict(bucket="closed", raw_status="CLOSED", sla_status="Within SLA", mttr="4.00")
    files = [
        [state("INC-1", assigned_team="Team A", owner="Ann"),
         state("INC-2", assigned_team=None, owner="Service Desk"),
         state("INC-3", assigned_team="Team D", owner="Dan"),
         state("INC-4", assigned_team="Team F", owner="Fay", closed_at=T0 - H, **closed),
         state("INC-5", assigned_team="Team G", owner="Gus")],
        [state("INC-1", assigned_team="Team B", owner="Bob"),  # re-routed before closing
         state("INC-2", assigned_team=None, owner="Kevin Mwangi", closed_at=T0 + 6 * H, **closed),
         state("INC-3", assigned_team="Team D", owner="Dan", closed_at=T0 + 6 * H, **closed)],
        [state("INC-1", assigned_team="Team B", owner="Bob", closed_at=T0 + 13 * H, **closed),
         state("INC-3", assigned_team="Team E", owner="Eve")],  # reopened, another team
        [state("INC-1", assigned_team="Team C", owner="Cid", closed_at=T0 + 13 * H, **closed),  # after closing
         state("INC-3", assigned_team="Team E", owner="Eve", closed_at=T0 + 27 * H, **closed)],
    ]
    for k, file_rows in enumerate(files):
        apply_rows(db, "inc", T0 + 7 * k * H, file_rows)
    # a closed ticket loaded before history was captured
    insert(db, "inc", [ticket("INC-6", bucket="closed", assigned_team=None, owner="Olga", closed_at=T0,
                              sla_status="Breached", mttr="50")])

    got = {r["ticket_id"]: r for r in rows(db, "SELECT * FROM reporting.fn_inc_closures()")}
    assert {k: (v["team"], v["team_source"], v["from_history"]) for k, v in got.items()} == {
        "INC-1": ("Team B", "assigned_team", True),
        "INC-2": ("Kevin Mwangi", "owner", True),
        "INC-3": ("Team E", "assigned_team", True),
        "INC-4": ("Team F", "assigned_team", True),
        "INC-6": ("Olga", "owner", False),
    }
    assert (got["INC-1"]["current_assigned_team"], got["INC-1"]["closing_file_ts"]) == ("Team C", T0 + 14 * H)
    assert got["INC-1"]["closing_source_key"] == "automations/inc/changes/2026-06-15T20-00-00.csv"


def test_team_closures_on_a_generated_stream_where_teams_change_before_closure(db):
    stream = team_stream(seed=5, tickets=360, files=12, start=T0)
    for file_ts, file_rows in stream:
        apply_rows(db, "inc", file_ts, file_rows)
    expected = expected_closures(stream)

    # the stream exercises what matters: re-routing before closure, after closure, reopening
    history = rows(db, "SELECT ticket_id, bucket, prev_bucket, assigned_team, prev_assigned_team"
                       " FROM tickets.inc_history ORDER BY ticket_id, file_ts")
    before_close = {h["ticket_id"] for h in history if h["bucket"] == "pending" and h["prev_bucket"] == "pending"
                    and h["assigned_team"] != h["prev_assigned_team"]}
    after_close = {h["ticket_id"] for h in history if h["bucket"] == h["prev_bucket"] == "closed"}
    reopened = {h["ticket_id"] for h in history if h["bucket"] == "pending" and h["prev_bucket"] == "closed"}
    assert len(before_close & expected.keys()) > 20 and len(after_close & expected.keys()) > 10
    assert len(reopened & expected.keys()) > 5

    got = {r["ticket_id"]: r for r in rows(db, "SELECT * FROM reporting.fn_inc_closures()")}
    assert {k: v["team"] for k, v in got.items()} == {k: v["team"] for k, v in expected.items()}
    assert {k: v["closed_on"] for k, v in got.items()} == {k: v["closed_on"] for k, v in expected.items()}
    assert all(v["from_history"] for v in got.values())

    for grain in ("day", "week"):
        buckets: dict[tuple, list] = defaultdict(list)
        for v in expected.values():
            start = v["closed_on"] - timedelta(days=v["closed_on"].weekday()) if grain == "week" else v["closed_on"]
            buckets[(start, v["team"])].append(v)
        report = rows(db, "SELECT * FROM reporting.fn_team_closures(%s)", (grain,))
        assert {(r["period_start"], r["team"]) for r in report} == set(buckets)
        for r in report:
            group = buckets[(r["period_start"], r["team"])]
            verdicts = [(v["sla_status"] or "").strip().lower() for v in group]
            assert (r["closed"], r["within_sla"], r["breached"], r["other_sla"]) == (
                len(group), verdicts.count("within sla"), verdicts.count("breached"),
                len(group) - verdicts.count("within sla") - verdicts.count("breached"))
            assert float(r["median_mttr"]) == pytest.approx(
                statistics.median(float(v["mttr"]) for v in group), abs=0.006)
        assert [(r["period_start"], -r["closed"]) for r in report] == sorted(
            (r["period_start"], -r["closed"]) for r in report)
    window = rows(db, "SELECT ticket_id FROM reporting.fn_inc_closures('2026-06-16', '2026-06-17')")
    assert {r["ticket_id"] for r in window} == {
        k for k, v in expected.items() if date(2026, 6, 16) <= v["closed_on"] <= date(2026, 6, 17)}


def test_attribution_on_a_sample_export_stream(db, tmp_path: Path):
    files = write_stream("inc", tmp_path / "inc", rows=1200, deltas=6, delta_rows=250, seed=21)
    for path in files:
        apply_csv(db, "inc", path, tmp_path)
    # oracle: the row of the file where each ticket last entered `closed`
    first: dict[str, dict] = {}
    current: dict[str, dict] = {}
    at_close: dict[str, dict] = {}
    for path in files:
        for tid, row in oracle.read_file(path).items():
            if row["bucket"] == "closed" and current.get(tid, {}).get("bucket") != "closed":
                at_close[tid] = row
            first.setdefault(tid, row)
            current[tid] = row
    expected = {tid: at_close[tid]["assigned_team"] or at_close[tid]["owner"]
                for tid, row in current.items() if row["bucket"] == "closed"}
    got = {r["ticket_id"]: r["team"] for r in rows(db, "SELECT * FROM reporting.fn_inc_closures()")}
    assert got == expected
    team_changed = [tid for tid in expected if first[tid]["assigned_team"] != at_close[tid]["assigned_team"]]
    assert len(got) > 500 and len(team_changed) > 20


# -- SLA summary -----------------------------------------------------------------------------


def test_sla_summary_by_region_and_cluster(db):
    insert(db, "inc", [
        ticket("INC-K1", created_at_service=AS_OF - 60 * H),
        ticket("INC-K0", created_at_service=AS_OF - 60 * H),  # same clock: the smaller id is the oldest
        ticket("INC-K2", created_at_service=AS_OF - 40 * H),
        ticket("INC-K3", created_at_service=AS_OF - H),
        ticket("INC-K4", created_at_service=None, first_seen_at=None),
        ticket("INC-K5", created_at_service=AS_OF - 2 * H, is_actionable="false"),
        ticket("INC-K6", bucket="closed", created_at_service=AS_OF - 99 * H, closed_at=AS_OF),
        ticket("INC-N1", region="coast", cluster="Nyali", created_at_service=AS_OF - 50 * H),
        ticket("INC-U1", region="western", cluster="Busia", created_at_service=None, first_seen_at=None),
    ])
    insert(db, "crq", [ticket("CRQ-K1", created_at_service=AS_OF - 3 * H)])

    def summary(**kwargs):
        args = "".join(f"{k} => %({k})s, " for k in kwargs)
        return [(r["dataset"], r["region"], r["cluster"], r["open"], r["on_track"], r["at_risk"], r["breached"],
                 r["unknown"], r["oldest_ticket_id"], r["oldest_age_hours"])
                for r in rows(db, f"SELECT * FROM reporting.fn_sla_summary({args}p_as_of => %(as_of)s)",  # noqa: S608
                              {**kwargs, "as_of": AS_OF})]

    assert summary() == [
        ("inc", "nairobi", "Kilimani", 6, 2, 1, 2, 1, "INC-K0", Decimal("60.00")),
        ("inc", "coast", "Nyali", 1, 0, 0, 1, 0, "INC-N1", Decimal("50.00")),
        ("crq", "nairobi", "Kilimani", 1, 1, 0, 0, 0, "CRQ-K1", Decimal("3.00")),
        ("inc", "western", "Busia", 1, 0, 0, 0, 1, None, None),
    ]
    assert summary(p_actionable_only=True)[0][3:5] == (5, 1)
    assert [r[:3] for r in summary(p_datasets=["crq"])] == [("crq", "nairobi", "Kilimani")]
    assert [r[:3] for r in summary(p_region="Coast")] == [("inc", "coast", "Nyali")]


# -- least privilege -------------------------------------------------------------------------

REPORTING_CALLS = [
    "reporting.fn_tickets_for_map()",
    "reporting.fn_nearest_open_tickets(-1.29, 36.79, 5)",
    "reporting.fn_sla_summary()",
    "reporting.fn_inc_closures()",
    "reporting.fn_team_closures('week')",
    "reporting.fn_sla_state('pending', now() - interval '40 hours', NULL)",
]


def test_dashboard_api_calls_the_functions_and_reads_nothing_else(db):
    _map_fixture(db)
    roles = dict(db.execute("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN"
                            " ('dashboard_api', 'fleettickets_loader', 'fleettickets_report_owner')").fetchall())
    assert roles == {"dashboard_api": False, "fleettickets_loader": False, "fleettickets_report_owner": False}
    functions = rows(db, "SELECT p.proname, p.prosecdef, p.proconfig, p.proowner::regrole::text AS owner,"
                         " has_function_privilege('dashboard_api', p.oid, 'EXECUTE') AS dashboard,"
                         " EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0) AS public"
                         " FROM pg_proc p WHERE p.pronamespace = 'reporting'::regnamespace ORDER BY 1")
    assert {f["proname"] for f in functions} >= {
        "fn_sla_state", "fn_tickets_for_map", "fn_nearest_open_tickets", "fn_sla_summary",
        "fn_inc_closures", "fn_team_closures"}
    for f in functions:
        assert f["owner"] == "fleettickets_report_owner" and f["dashboard"] and not f["public"], f
        # the SLA function reads no table and is inlined into its callers: invoker, no SET
        assert f["prosecdef"] == (f["proname"] != "fn_sla_state"), f
        if f["prosecdef"]:
            assert "search_path=pg_catalog, public, pg_temp" in f["proconfig"], f

    db.execute("SET ROLE dashboard_api")
    try:
        for call in REPORTING_CALLS:
            db.execute(f"SELECT * FROM {call}").fetchall()  # noqa: S608
        mapped = db.execute("SELECT ticket_id FROM reporting.fn_tickets_for_map(p_as_of => %s)", (AS_OF,))
        assert len(mapped.fetchall()) == 6
        for relation in ("tickets.inc", "tickets.crq", "tickets.inc_history", "tickets.import_meta",
                         "tickets.applied_files", "tickets.all_tickets", "tickets.inc_closures",
                         "public.fleettickets_migrations"):
            with pytest.raises(errors.InsufficientPrivilege):
                db.execute(f"SELECT 1 FROM {relation} LIMIT 1")  # noqa: S608
        for statement in ("SELECT tickets.eat_ts('2026-06-15 10:00:00')",
                          "UPDATE tickets.inc SET raw = raw",
                          "CREATE TABLE public.planted (id int)",
                          "CREATE FUNCTION public.st_y(geometry) RETURNS float8 LANGUAGE sql AS 'SELECT 0.0'"):
            with pytest.raises(errors.InsufficientPrivilege):
                db.execute(statement)
    finally:
        db.execute("RESET ROLE")
    for relation in ("tickets.inc", "tickets.crq", "tickets.inc_history", "tickets.import_meta",
                     "tickets.applied_files"):
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            assert not db.execute("SELECT has_table_privilege('dashboard_api', %s, %s)",
                                  (relation, privilege)).fetchone()[0]
            report_owner_may = privilege == "SELECT" and relation in ("tickets.inc", "tickets.crq",
                                                                      "tickets.inc_history")
            assert db.execute("SELECT has_table_privilege('fleettickets_report_owner', %s, %s)",
                              (relation, privilege)).fetchone()[0] == report_owner_may


def test_the_loader_owns_the_writes(db):
    db.execute("SET ROLE fleettickets_loader")
    try:
        apply_rows(db, "inc", T0, [raw_row("INC-L1", created_at_service=T0 - 40 * H)])
        apply_rows(db, "inc", T0 + H, [raw_row("INC-L1", assigned_team="Team L", bucket="closed",
                                                closed_at=T0, sla_status="Within SLA", mttr="40")])
        assert db.execute("SELECT count(*) FROM tickets.inc_history").fetchone()[0] == 2
        assert db.execute("SELECT team FROM reporting.fn_inc_closures()").fetchall() == [("Team L",)]
        with pytest.raises(errors.InsufficientPrivilege):
            db.execute("DROP TABLE tickets.inc")
    finally:
        db.execute("RESET ROLE")


def test_roles_migration_is_safe_where_the_roles_already_exist(db):
    """Roles are cluster-wide: another database's migration may have created them already."""
    sql = (MIGRATIONS_DIR / "05_roles.sql").read_text(encoding="utf-8")
    with db.transaction(force_rollback=True):
        db.execute(sql)
        db.execute(sql)


# -- 300k tickets: the map and nearest queries stay index-driven ------------------------------

BULK_LOAD = """
SELECT setseed(0.42);
CREATE TEMP TABLE bulk ON COMMIT DROP AS
SELECT id,
       jsonb_build_object('ticket_id', id, 'bucket', CASE WHEN g % 100 < 35 THEN 'pending' ELSE 'closed' END,
                          'is_actionable', CASE WHEN g % 10 = 0 THEN 'false' ELSE 'true' END,
                          'raw_status', 'ASSIGNED', 'region', 'nairobi', 'cluster', 'Cluster ' || (g % 70),
                          'priority', 'P' || (1 + g % 4), 'assigned_team', 'Team ' || (g % 25))
       || CASE WHEN g % 10 < 3
               THEN jsonb_build_object('first_seen_at', to_char(created AT TIME ZONE 'Africa/Nairobi',
                                                                'YYYY-MM-DD HH24:MI:SS'))
               ELSE jsonb_build_object('created_at_service', to_char(created AT TIME ZONE 'Africa/Nairobi',
                                                                     'YYYY-MM-DD HH24:MI:SS')) END AS raw,
       CASE WHEN g % 20 <> 0 THEN ST_SetSRID(ST_MakePoint(lon, lat), 4326) END AS geom,
       CASE WHEN g % 20 <> 0 THEN 'location' END AS geom_precision
FROM (
    SELECT g, 'INC' || lpad(g::text, 12, '0') AS id,
           timestamptz '2026-06-17 12:00+03' - random() * interval '200 hours' AS created,
           CASE WHEN g % 5 < 3 THEN -1.45 + random() * 0.3 ELSE -4.6 + random() * 9.0 END AS lat,
           CASE WHEN g % 5 < 3 THEN 36.65 + random() * 0.35 ELSE 34.0 + random() * 7.8 END AS lon
    FROM generate_series(1, 300000) g
) s;
INSERT INTO tickets.inc (ticket_id, raw, source_key, file_ts) SELECT id, raw, 'test/300k', now() FROM bulk;
INSERT INTO tickets.inc_placement (ticket_id, open, actionable, geom, geom_precision)
SELECT t.ticket_id, coalesce(t.bucket = 'pending', false), coalesce(t.is_actionable, false), b.geom, b.geom_precision
FROM bulk b JOIN tickets.inc t ON t.ticket_id = b.id
WHERE b.geom IS NOT NULL
"""


def _nested_plans(db: psycopg.Connection, notices: list[str], call: str) -> tuple[float, list[str]]:
    """EXPLAIN ANALYZE of the call, and the plans of the statements run inside it (auto_explain)."""
    db.execute(f"SELECT * FROM {call}").fetchall()  # warm: plpgsql compiled, caches loaded  # noqa: S608
    notices.clear()
    (plan,) = db.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM {call}").fetchone()  # noqa: S608
    doc = plan if isinstance(plan, list) else json.loads(plan)
    inside = [n for n in notices if "Function Scan on fn_" not in n and "spatial_ref_sys" not in n]
    return doc[0]["Execution Time"], inside


def _scans(plans: list[str]) -> str:
    return "; ".join(sorted({line.strip().split("  (")[0].removeprefix("->").strip()
                             for p in plans for line in p.splitlines() if " on inc" in line and "Scan" in line}))


def test_300k_tickets_map_and_nearest_queries_are_index_driven(db):
    started = time.monotonic()
    with db.transaction():
        # bulk-load pattern: secondary indexes dropped, rows loaded, indexes rebuilt as defined
        indexes = db.execute("SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
                             " WHERE indrelid IN ('tickets.inc'::regclass, 'tickets.inc_placement'::regclass)"
                             " AND NOT EXISTS"
                             " (SELECT 1 FROM pg_constraint c WHERE c.conindid = indexrelid)").fetchall()
        for name, _ in indexes:
            db.execute(f"DROP INDEX {name}")
        db.execute(BULK_LOAD)
        for _, definition in indexes:
            db.execute(definition)
    db.execute("ANALYZE tickets.inc; ANALYZE tickets.crq")
    counts = db.execute("SELECT count(*), count(*) FILTER (WHERE bucket = 'pending') FROM tickets.inc").fetchone()
    assert counts == (300_000, 105_000)
    print(f"\n[300k] loaded {counts[0]} tickets ({counts[1]} open) in {time.monotonic() - started:.1f} s")

    notices: list[str] = []
    db.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    db.execute("LOAD 'auto_explain'")
    for setting in ("log_min_duration = 0", "log_nested_statements = on", "log_analyze = on",
                    "log_level = 'notice'", "log_format = 'text'"):
        db.execute(f"SET auto_explain.{setting}")
    as_of = "'2026-06-17 12:00+03'"
    checks = {
        "map: open tickets, first page of 500 by urgency":
            (f"reporting.fn_tickets_for_map(p_limit => 500, p_as_of => {as_of})",
             ["Index Scan using inc_open_sla_clock_idx on inc"]),
        "map: open tickets in a viewport of central Nairobi":
            (f"reporting.fn_tickets_for_map(p_bbox => ARRAY[36.78, -1.31, 36.84, -1.26], p_as_of => {as_of})",
             ["inc_open_geom_idx"]),
        "map: breached open tickets of one cluster, first 200":
            (f"reporting.fn_tickets_for_map(p_cluster => 'Cluster 7', p_sla_states => ARRAY['breached'],"
             f" p_limit => 200, p_as_of => {as_of})", ["inc_open"]),
        "nearest: 20 open actionable tickets to Nairobi CBD":
            (f"reporting.fn_nearest_open_tickets(-1.2864, 36.8172, 20, p_as_of => {as_of})",
             ["Index Scan using inc_open_geog_idx on inc", "Order By: ((geom)::geography <->",
              "Index Cond: ((geom)::geography && _st_expand("]),
        "nearest: 10 breached within 5 km of Mombasa":
            (f"reporting.fn_nearest_open_tickets(-4.05, 39.67, 10, p_max_km => 5,"
             f" p_sla_states => ARRAY['breached'], p_as_of => {as_of})",
             ["Index Scan using inc_open_geog_idx on inc", "Order By: ((geom)::geography <->"]),
    }
    for label, (call, expected) in checks.items():
        total_ms, plans = _nested_plans(db, notices, call)
        text = "\n".join(plans)
        for fragment in expected:
            assert fragment in text, f"{label}: {fragment!r} not in\n{text}"
        assert "Seq Scan on inc" not in text, f"{label}: sequential scan\n{text}"
        inner = ", ".join(p.split("ms", 1)[0].replace("duration:", "").strip() + " ms" for p in plans)
        print(f"[300k] {label}: {total_ms:.1f} ms (statements inside: {inner}); {_scans(plans)}")

    # for the record, not asserted: every open ticket at once (105k rows), and the summary
    for label, call in (("map: all 105k open tickets, no limit", f"reporting.fn_tickets_for_map(p_as_of => {as_of})"),
                        ("SLA summary over 105k open tickets", f"reporting.fn_sla_summary(p_as_of => {as_of})")):
        total_ms, plans = _nested_plans(db, notices, call)
        print(f"[300k] {label}: {total_ms:.1f} ms; {_scans(plans)}")
