"""Incremental geocoding equals a full resolve (migrations/08_incremental_geocoding.sql).

A property test replays random streams - tickets moving between clusters and locations,
closing and reopening, deleted, carried unchanged by newer files; provider answers for
addresses and clusters arriving later; plus codes decoded; the gazetteer changing - with an
incremental pass now and then. After every pass each ticket's placement must equal a
from-scratch placement (computed here from the raw texts, the gazetteer and the caches,
without anything the passes keep), the kept counts must equal counts taken from the tables,
and the full resolve must find nothing to change. Each example runs in one transaction that
is rolled back, so nothing leaks into the other tests.

FLEETTICKETS_PROPERTY_EXAMPLES sets how many streams are drawn (`make test-long`: 200).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from fleettickets.config import Settings
from fleettickets.db import load_sql
from fleettickets.geocode import pluscode, run_geocoding
from fleettickets.geocode.gazetteer import gazetteer_text, load_gazetteer
from fleettickets.geocode.normalise import is_geocodable, normalise
from fleettickets.geocode.report import LocationStep
from fleettickets.geocode.steps import decode_plus_codes
from tests.test_geocode_runs import add_ticket

EXAMPLES = int(os.environ.get("FLEETTICKETS_PROPERTY_EXAMPLES", "30"))
KILIMANI = (-1.2906, 36.7856)

# --- what a from-scratch placement is, read from the tables as they are ----------------------

ORACLE_PLACEMENT = """
WITH t AS (
    SELECT 'inc' AS ds, ticket_id, region, cluster, location FROM tickets.inc
    UNION ALL SELECT 'crq', ticket_id, region, cluster, location FROM tickets.crq
), k AS (
    SELECT t.*, coalesce(tickets.norm_key(region), '') AS rk, coalesce(tickets.norm_key(cluster), '') AS ck,
           tickets.norm_key(location) AS lk
    FROM t
), c AS (
    -- a cluster's centroid: the gazetteer's when it knows the cluster, else a provider's answer
    SELECT k.*, CASE WHEN k.ck = '' THEN NULL
                     WHEN g.place_id IS NOT NULL THEN g.geom
                     WHEN gc.source IS DISTINCT FROM 'gazetteer' THEN gc.geom END AS centroid
    FROM k
    LEFT JOIN tickets.gazetteer g ON g.place_id = tickets.gazetteer_match(k.rk, k.ck)
    LEFT JOIN tickets.geo_clusters gc ON gc.region_key = k.rk AND gc.cluster_key = k.ck
)
SELECT c.ds, c.ticket_id,
       CASE WHEN gl.geom IS NOT NULL THEN gl.precision WHEN c.centroid IS NOT NULL THEN 'cluster' END,
       ST_AsText(coalesce(gl.geom, c.centroid))
FROM c
LEFT JOIN tickets.geo_locations gl
       ON gl.region_key = c.rk AND gl.cluster_key = c.ck AND gl.location_key = c.lk AND gl.status = 'ok'
"""
ANSWERS = "SELECT region_key, cluster_key, location_key, status, ST_AsText(geom) FROM tickets.geo_locations"
PLACEMENT = """
SELECT t.dataset, t.ticket_id, p.geom_precision, ST_AsText(p.geom)
FROM tickets.all_tickets t LEFT JOIN tickets.all_placements p USING (dataset, ticket_id)
"""
ORACLE_COVERAGE = """
SELECT t.dataset, coalesce(p.geom_precision, 'none'), coalesce(t.bucket = 'pending', false), count(*)
FROM tickets.all_tickets t LEFT JOIN tickets.all_placements p USING (dataset, ticket_id)
GROUP BY 1, 2, 3
"""
# Placements that disagree with their ticket rows: of a ticket that is gone, or with open /
# actionable flags other than the row's (the serving indexes are partial on them).
STRAY_PLACEMENTS = """
SELECT p.dataset, p.ticket_id, p.open, p.actionable, t.bucket, t.is_actionable
FROM tickets.all_placements p LEFT JOIN tickets.all_tickets t USING (dataset, ticket_id)
WHERE t.ticket_id IS NULL OR p.open <> coalesce(t.bucket = 'pending', false)
   OR p.actionable <> coalesce(t.is_actionable, false)
"""
ORACLE_CLUSTER_TICKETS = """
SELECT coalesce(tickets.norm_key(region), ''), coalesce(tickets.norm_key(cluster), ''), count(*),
       count(*) FILTER (WHERE bucket = 'pending')
FROM (SELECT region, cluster, bucket FROM tickets.inc UNION ALL SELECT region, cluster, bucket FROM tickets.crq) t
GROUP BY 1, 2
"""
# The addresses worth a request, grouped as the provider step wants them (before 08, this
# was the query every run made over every open ticket; is_geocodable is applied in Python),
# and whether each waits for one: a centroid for its cluster, no answer standing.
ORACLE_ADDRESSES = """
WITH o AS (
    SELECT coalesce(tickets.norm_key(region), '') AS rk, coalesce(tickets.norm_key(cluster), '') AS ck,
           tickets.norm_key(location) AS lk, min(location) AS location, min(cluster) AS cluster,
           min(clock) AS clock, count(*) AS tickets
    FROM (SELECT region, cluster, location, coalesce(created_at_service, first_seen_at) AS clock
          FROM tickets.inc WHERE bucket = 'pending' AND is_actionable AND location IS NOT NULL
          UNION ALL
          SELECT region, cluster, location, coalesce(created_at_service, first_seen_at)
          FROM tickets.crq WHERE bucket = 'pending' AND location IS NOT NULL) t
    GROUP BY 1, 2, 3
)
SELECT o.*, (g.place_id IS NOT NULL OR (gc.source IS DISTINCT FROM 'gazetteer' AND gc.geom IS NOT NULL))
            AND NOT EXISTS (SELECT 1 FROM tickets.geo_locations gl
                            WHERE (gl.region_key, gl.cluster_key, gl.location_key) = (o.rk, o.ck, o.lk)
                              AND (gl.status = 'ok' OR gl.expires_at > now()))
FROM o
LEFT JOIN tickets.gazetteer g ON g.place_id = tickets.gazetteer_match(o.rk, o.ck)
LEFT JOIN tickets.geo_clusters gc ON gc.region_key = o.rk AND gc.cluster_key = o.ck
"""


def state(conn: psycopg.Connection, query: str) -> dict[tuple, tuple]:
    return {tuple(r[:2]): tuple(r[2:]) for r in conn.execute(query)}


def kept_counts(conn: psycopg.Connection) -> dict[str, set[tuple]]:
    return {
        "coverage": set(conn.execute("SELECT * FROM tickets.geo_coverage WHERE tickets <> 0")),
        "clusters": set(conn.execute("SELECT * FROM tickets.geo_cluster_tickets WHERE tickets <> 0 OR open <> 0")),
        "addresses": set(conn.execute("SELECT * FROM tickets.geo_addresses")),
        "waiting": conn.execute("SELECT waiting FROM tickets.geo_state").fetchone()[0],
    }


def oracle_counts(conn: psycopg.Connection) -> dict[str, set[tuple]]:
    return {
        "coverage": set(conn.execute(ORACLE_COVERAGE)),
        "clusters": set(conn.execute(ORACLE_CLUSTER_TICKETS)),
        "addresses": (addresses := {r for r in conn.execute(ORACLE_ADDRESSES) if is_geocodable(r[3], r[4])}),
        "waiting": sum(1 for r in addresses if r[-1]),
    }


def incremental_pass(conn: psycopg.Connection) -> dict[str, int]:
    return dict(conn.execute(load_sql("geocode_place_changed.sql")).fetchall())


def assert_equals_full_resolve(conn: psycopg.Connection) -> None:
    """Ticket by ticket, the incremental placement is the from-scratch one, the kept counts are
    the tables' own, and the full resolve (tried, then undone) changes nothing."""
    placed = state(conn, PLACEMENT)
    assert placed == state(conn, ORACLE_PLACEMENT)
    assert conn.execute(STRAY_PLACEMENTS).fetchall() == []
    counts = kept_counts(conn)
    assert counts == oracle_counts(conn)
    with conn.transaction(force_rollback=True):
        assert dict(conn.execute(load_sql("geocode_resolve.sql")).fetchall()) == {"inc": 0, "crq": 0}
        assert state(conn, PLACEMENT) == placed
        assert kept_counts(conn) == counts


# --- the stream -------------------------------------------------------------------------------

FULL_CODE = pluscode.encode(-1.2890, 36.7870)
SHORT_CODE = pluscode.encode(-1.2950, 36.7800)[4:]
REGIONS = ["nairobi", "rift valley", "coast", "", None]
CLUSTERS = ["Kilimani", "KILIMANI ", "Westlands", "Westie", "Rongai", "Nyali", "Kwa Mbao", "Atlantis", None]
LOCATIONS = ["Argwings Kodhek Rd", "argwings  kodhek RD", "Links Road", "N/A", "", None, "Kilimani",
             FULL_CODE, f"{SHORT_CODE} Kilimani", "Call +254 700 000 000", pluscode.encode(-4.05, 39.66)]
CLOCKS = ["2026-06-14 08:00:00", "2026-06-13 08:00:00", None]
TICKETS = [("inc", f"INC{n}") for n in range(5)] + [("crq", f"CRQ{n}") for n in range(3)]


def gazetteer_variant(variant: int) -> str:
    """The shipped gazetteer (0), without Westlands (1), with Kilimani moved 2 km north and Kwa
    Mbao an alias of Westlands (2)."""
    header, *rows = gazetteer_text().splitlines()
    if variant == 1:
        rows = [r for r in rows if not r.startswith("nairobi/westlands,")]
    elif variant == 2:
        rows = [r.replace("-1.29060,36.78560", "-1.27260,36.78560") if r.startswith("nairobi/kilimani,")
                else r.replace(",Westie,", ",Westie|Kwa Mbao,") if r.startswith("nairobi/westlands,") else r
                for r in rows]
    return "\n".join([header, *rows]) + "\n"


@dataclass(frozen=True)
class Op:
    kind: str
    args: tuple


changes = st.one_of(
    st.builds(lambda t, r, c, loc, b, a, k: Op("upsert", (*t, r, c, loc, b, a, k)),
              st.sampled_from(TICKETS), st.sampled_from(REGIONS), st.sampled_from(CLUSTERS),
              st.sampled_from(LOCATIONS), st.sampled_from(["pending", "pending", "closed"]), st.booleans(),
              st.sampled_from(CLOCKS)),
    st.builds(lambda t, c, loc: Op("move", (*t, c, loc)),  # the same ticket, another cluster or address
              st.sampled_from(TICKETS), st.sampled_from(CLUSTERS), st.sampled_from(LOCATIONS)),
    st.builds(lambda t: Op("carry", t), st.sampled_from(TICKETS)),
    st.builds(lambda t: Op("delete", t), st.sampled_from(TICKETS)),
    st.builds(lambda r, c, loc, s, d: Op("answer", (r, c, loc, s, d)),
              st.sampled_from(REGIONS), st.sampled_from(CLUSTERS), st.sampled_from(LOCATIONS),
              st.sampled_from(["ok", "ok", "miss", "guard_rejected"]), st.integers(1, 9)),
    st.builds(lambda r, c, loc: Op("forget", (r, c, loc)),
              st.sampled_from(REGIONS), st.sampled_from(CLUSTERS), st.sampled_from(LOCATIONS)),
    st.builds(lambda r, c, s: Op("cluster_answer", (r, c, s)),
              st.sampled_from(REGIONS), st.sampled_from(CLUSTERS), st.sampled_from(["ok", "miss"])),
    st.builds(lambda v: Op("gazetteer", (v,)), st.integers(0, 2)),
    st.just(Op("decode", ())),
    st.just(Op("expire", ())),
)
# Rounds of changes, each followed by a pass (and the comparison).
streams = st.lists(st.lists(changes, min_size=1, max_size=6), min_size=1, max_size=8)


def raw_row(ticket_id: str, region: str | None, cluster: str | None, location: str | None, bucket: str,
            actionable: bool, clock: str | None) -> str:
    return json.dumps({"ticket_id": ticket_id, "bucket": bucket, "is_actionable": "true" if actionable else "false",
                       "region": region, "cluster": cluster, "location": location,
                       "created_at_service": clock, "first_seen_at": "2026-06-12 08:00:00"})


def apply_op(conn: psycopg.Connection, settings: Settings, op: Op) -> None:
    if op.kind == "upsert":
        ds, tid, *content = op.args
        # as the loader writes: content changed -> raw and last_loaded_at; else nothing
        conn.execute(f"INSERT INTO tickets.{ds} AS t (ticket_id, raw, source_key, file_ts)"  # noqa: S608
                     " VALUES (%s, %s::jsonb, 'p/x.csv', clock_timestamp())"
                     " ON CONFLICT (ticket_id) DO UPDATE SET raw = excluded.raw, file_ts = excluded.file_ts,"
                     "   last_loaded_at = clock_timestamp() WHERE t.raw IS DISTINCT FROM excluded.raw",
                     (tid, raw_row(tid, *content)))
    elif op.kind == "move":
        ds, tid, cluster, location = op.args
        conn.execute(f"UPDATE tickets.{ds} SET raw = raw || jsonb_build_object('cluster', %s::text,"  # noqa: S608
                     " 'location', %s::text), last_loaded_at = clock_timestamp() WHERE ticket_id = %s"
                     " AND (raw->>'cluster', raw->>'location') IS DISTINCT FROM (%s, %s)",
                     (cluster, location, tid, cluster, location))
    elif op.kind == "carry":  # a newer file carries the ticket unchanged
        ds, tid = op.args
        conn.execute(f"UPDATE tickets.{ds} SET file_ts = clock_timestamp(), source_key = 'p/y.csv',"  # noqa: S608
                     " raw = raw WHERE ticket_id = %s", (tid,))
    elif op.kind == "delete":
        ds, tid = op.args
        conn.execute(f"DELETE FROM tickets.{ds} WHERE ticket_id = %s", (tid,))  # noqa: S608
    elif op.kind == "answer":
        region, cluster, location, status, offset = op.args
        if not normalise(location):
            return
        point = (KILIMANI[0] + offset / 1000, KILIMANI[1]) if status == "ok" else None
        conn.execute(load_sql("geocode_store_location.sql"), {
            "region_key": normalise(region), "cluster_key": normalise(cluster), "location_key": normalise(location),
            "location": location, "query": location, "request": None, "provider": "locationiq",
            "status": status, "precision": "location" if point else None,
            "lat": point[0] if point else None, "lon": point[1] if point else None,
            "distance_km": None, "candidates": 1, "raw": None, "ttl_days": 30,
        })
    elif op.kind == "forget":
        region, cluster, location = op.args
        conn.execute("DELETE FROM tickets.geo_locations WHERE region_key = %s AND cluster_key = %s"
                     " AND location_key = %s", (normalise(region), normalise(cluster), normalise(location)))
    elif op.kind == "cluster_answer":
        region, cluster, status = op.args
        conn.execute(load_sql("geocode_store_cluster.sql"), {
            "provider": "locationiq", "status": status, "lat": -1.25 if status == "ok" else None,
            "lon": 36.95 if status == "ok" else None, "query": f"{cluster}, Kenya", "raw": None, "ttl_days": 30,
            "region_key": normalise(region), "cluster_key": normalise(cluster),
        })
    elif op.kind == "gazetteer":
        load_gazetteer(conn, text=gazetteer_variant(op.args[0]), version=f"test-{op.args[0]}")
    elif op.kind == "decode":
        decode_plus_codes(conn, settings, LocationStep(provider="offline"))
    elif op.kind == "expire":  # provider misses come up for a new question (plus codes do not change)
        conn.execute("UPDATE tickets.geo_locations SET expires_at = now() - interval '1 day'"
                     " WHERE status <> 'ok' AND provider <> 'plus_code'")


@pytest.fixture(scope="module")
def offline(database: str) -> Settings:
    return Settings.from_env().replace(database_url=database, geocoder_provider="offline")


@hypothesis_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams)
def test_incremental_placement_equals_a_full_resolve(database: str, offline: Settings,
                                                     stream: list[list[Op]]) -> None:
    with psycopg.connect(database) as conn:
        try:
            conn.execute("TRUNCATE tickets.inc, tickets.crq, tickets.geo_locations, tickets.geo_clusters")
            incremental_pass(conn)  # the truncation asks for a full pass: start from there
            for changed in stream:
                for op in changed:
                    note(repr(op))
                    apply_op(conn, offline, op)
                    # the flags follow every write of a ticket row, before any pass
                    assert conn.execute(STRAY_PLACEMENTS).fetchall() == []
                note("pass")
                incremental_pass(conn)
                assert_equals_full_resolve(conn)
            # and nothing a full pass would decode was left undecoded
            decode_plus_codes(conn, offline, LocationStep(provider="offline"))
            incremental_pass(conn)
            answers = set(conn.execute(ANSWERS))
            with conn.transaction(force_rollback=True):
                conn.execute(load_sql("geocode_resolve.sql"))
                decode_plus_codes(conn, offline, LocationStep(provider="offline"))
                assert set(conn.execute(ANSWERS)) == answers
        finally:
            conn.rollback()


# --- named cases -------------------------------------------------------------------------------

def seq_scans(conn: psycopg.Connection) -> dict[str, int]:
    """Sequential scans of the ticket and placement tables so far, once every session has
    reported: this one's own (the fixture's TRUNCATE counts scans), the steps' sessions (each
    flushes its statistics as it exits; no other session of the database is left, and four reads
    over 0.75 s agree)."""
    seen, same = None, 0
    conn.execute("SELECT pg_stat_force_next_flush()")  # this session's own, as it goes idle
    for attempt in range(60):
        conn.execute("SELECT pg_stat_clear_snapshot()")
        others = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                              " AND pid <> pg_backend_pid()").fetchone()[0]
        if others and attempt < 20:  # (a session another fixture keeps open is waited for 5 s at most)
            seen, same = None, 0
            time.sleep(0.25)
            continue
        now = dict(conn.execute("SELECT relname, seq_scan FROM pg_stat_user_tables WHERE schemaname = 'tickets'"
                                " AND relname IN ('inc', 'crq', 'inc_placement', 'crq_placement')"))
        same = same + 1 if now == seen else 0
        if same == 3:
            return now
        seen = now
        time.sleep(0.25)
    raise AssertionError("the statistics did not settle")


def test_a_run_with_nothing_changed_reads_no_ticket_table(db: psycopg.Connection, offline: Settings) -> None:
    for i in range(30):
        add_ticket(db, "inc" if i % 3 else "crq", f"T{i}", "nairobi", ["Kilimani", "Kwa Mbao"][i % 2],
                   [FULL_CODE, "Argwings Kodhek Rd", "N/A"][i % 3])
    first = run_geocoding(offline)
    assert first.coverage.all.tickets.total == 30 and first.locations.plus_codes == 2

    before = seq_scans(db)
    again = run_geocoding(offline)
    after = seq_scans(db)

    assert after == before  # every query of the run went through an index or a kept count
    assert again.resolved.as_dict() == {"inc": 0, "crq": 0}
    assert again.coverage == first.coverage and again.unmatched == first.unmatched
    assert again.locations.candidates == first.locations.candidates > 0


def test_a_newer_file_carrying_a_ticket_unchanged_is_not_work(db: psycopg.Connection, offline: Settings) -> None:
    add_ticket(db, "inc", "T1", "nairobi", "Kilimani", "Argwings Kodhek Rd")
    run_geocoding(offline)
    db.execute("UPDATE tickets.inc SET file_ts = now() + interval '1 hour', source_key = 'b', raw = raw")
    carried = db.execute("SELECT xmin::text FROM tickets.inc").fetchone()
    changed = db.execute("SELECT count(*) FROM tickets.geo_changed_tickets").fetchone()[0]
    assert changed == 0  # not queued for the next pass
    assert incremental_pass(db) == {"inc": 0, "crq": 0}
    assert db.execute("SELECT xmin::text FROM tickets.inc").fetchone() == carried  # not written again


def test_a_deleted_ticket_takes_its_counts_with_it(db: psycopg.Connection, offline: Settings) -> None:
    add_ticket(db, "inc", "T1", "nairobi", "Kilimani", "Argwings Kodhek Rd")
    add_ticket(db, "inc", "T2", "nairobi", "Kilimani", "Argwings Kodhek Rd", clock="2026-06-01 08:00:00")
    run_geocoding(offline)
    db.execute("DELETE FROM tickets.inc WHERE ticket_id = 'T2'")  # as a quarantine does
    report = run_geocoding(offline)
    assert report.coverage.inc.tickets.total == 1
    assert kept_counts(db) == oracle_counts(db)
    assert db.execute("SELECT tickets FROM tickets.geo_addresses").fetchall() == [(1,)]


def test_a_new_gazetteer_moves_its_clusters_tickets(db: psycopg.Connection, offline: Settings) -> None:
    add_ticket(db, "inc", "T1", "nairobi", "Kilimani", "N/A")
    add_ticket(db, "crq", "T2", "nairobi", "Westlands", "N/A")
    run_geocoding(offline)
    try:
        load_gazetteer(db, text=gazetteer_variant(2), version="test-moved")
        report = run_geocoding(offline)
        assert report.resolved.as_dict() == {"inc": 1, "crq": 0}  # Kilimani moved, Westlands did not
        assert state(db, PLACEMENT) == state(db, ORACLE_PLACEMENT)
    finally:
        assert load_gazetteer(db)["status"] == "loaded"
    assert run_geocoding(offline).resolved.as_dict() == {"inc": 1, "crq": 0}  # and back


# --- the SQL twins ---------------------------------------------------------------------------------

TEXTS = ["N/A", "n/a", "", "  ", "Kenya", "TBC", "0", "ab", "12 34", "Argwings Kodhek Rd", "Kilimani", "kilimani ",
         "Lang'ata Rd", "Café Élan", "Plot 123/45 off Ngong Rd.", "no address", "Yaya`s", "Moi’s Bridge"]


@pytest.mark.parametrize("cluster", ["Kilimani", None, "Café Élan"])
def test_sql_and_python_agree_on_what_is_worth_a_request(database: str, cluster: Any) -> None:
    with psycopg.connect(database) as conn:
        sql = [r[0] for r in conn.execute(
            "SELECT tickets.worth_asking(tickets.norm_key(x), coalesce(tickets.norm_key(%s), ''))"
            " FROM unnest(%s::text[]) WITH ORDINALITY u(x, i) ORDER BY i", (cluster, TEXTS))]
        keys = [r[0] for r in conn.execute("SELECT tickets.norm_key(x) FROM unnest(%s::text[]) WITH ORDINALITY u(x, i)"
                                           " ORDER BY i", (TEXTS,))]
    assert sql == [is_geocodable(t, cluster) for t in TEXTS]
    assert keys == [normalise(t) for t in TEXTS]  # the ASCII shortcut in norm_key included


def test_an_address_waits_again_when_its_miss_expires(db: psycopg.Connection, offline: Settings) -> None:
    """No write marks the moment a miss expires: the pass after it counts the address again."""
    add_ticket(db, "inc", "T1", "nairobi", "Kilimani", "Argwings Kodhek Rd")
    assert run_geocoding(offline).locations.waiting == 1
    db.execute(load_sql("geocode_store_location.sql"), {
        "region_key": "nairobi", "cluster_key": "kilimani", "location_key": "argwings kodhek rd",
        "location": "Argwings Kodhek Rd", "query": "Argwings Kodhek Rd, Kilimani, Kenya", "request": None,
        "provider": "locationiq", "status": "miss", "precision": None, "lat": None, "lon": None,
        "distance_km": None, "candidates": 0, "raw": None, "ttl_days": 0})
    db.execute("UPDATE tickets.geo_locations SET expires_at = clock_timestamp() + interval '1 second'")
    assert run_geocoding(offline).locations.waiting == 0  # answered (a miss), for a second
    time.sleep(1.2)
    assert run_geocoding(offline).locations.waiting == 1
    assert kept_counts(db) == oracle_counts(db)


def test_a_mass_change_takes_the_whole_table_path_with_the_same_result(db: psycopg.Connection,
                                                                        offline: Settings) -> None:
    """Past 20,000 changed rows a pass scans the table and counts the addresses afresh."""
    db.execute("INSERT INTO tickets.inc (ticket_id, raw, source_key, file_ts)"
               " SELECT 'M' || n, jsonb_build_object('ticket_id', 'M' || n, 'bucket', 'pending',"
               "   'is_actionable', 'true', 'region', 'nairobi', 'cluster', (ARRAY['Kilimani', 'Kwa Mbao'])[1 + n % 2],"
               "   'location', 'Plot ' || n || ' Ngong Rd', 'created_at_service', '2026-06-14 08:00:00'),"
               "   'm', now() FROM generate_series(1, 20100) n")
    assert incremental_pass(db) == {"inc": 10050, "crq": 0}  # Kwa Mbao has no centroid offline
    assert state(db, PLACEMENT) == state(db, ORACLE_PLACEMENT)
    assert kept_counts(db) == oracle_counts(db)
    db.execute("UPDATE tickets.inc SET raw = raw || '{\"bucket\": \"closed\"}', last_loaded_at = clock_timestamp()"
               " WHERE ticket_id LIKE 'M1%'")
    incremental_pass(db)
    assert kept_counts(db) == oracle_counts(db)


@pytest.mark.parametrize("large", ["inc", "crq"])
def test_a_first_placement_of_a_large_table_counts_what_it_placed(db: psycopg.Connection, offline: Settings,
                                                                  large: str) -> None:
    """An empty placement table and more than 20,000 queued tickets: the bulk statement
    (migrations/11) writes the counts from the rows it placed, the other dataset's few changes
    go through geo_done; the counts are the tables' own and a full resolve changes nothing."""
    incremental_pass(db)  # the fixture's truncation: a full pass over no tickets empties the counts
    db.execute(load_sql("geocode_store_location.sql"), {
        "region_key": "nairobi", "cluster_key": "kilimani", "location_key": "plot 7 ngong rd",
        "location": "Plot 7 Ngong Rd", "query": "Plot 7 Ngong Rd", "request": None, "provider": "locationiq",
        "status": "ok", "precision": "location", "lat": KILIMANI[0], "lon": KILIMANI[1], "distance_km": None,
        "candidates": 1, "raw": None, "ttl_days": 30})
    db.execute(f"INSERT INTO tickets.{large} (ticket_id, raw, source_key, file_ts)"  # noqa: S608
               " SELECT 'M' || n, jsonb_build_object('ticket_id', 'M' || n,"
               "   'bucket', (ARRAY['pending', 'closed', 'pending'])[1 + n %% 3],"
               "   'is_actionable', (ARRAY['true', 'false'])[1 + n %% 2], 'region', 'nairobi',"
               "   'cluster', (ARRAY['Kilimani', 'Kwa Mbao', 'Westlands', NULL])[1 + n %% 4],"
               "   'location', (ARRAY['Plot ' || n %% 500 || ' Ngong Rd', %s, 'N/A', NULL])[1 + n %% 5],"
               "   'created_at_service', '2026-06-14 08:00:00'::timestamptz + n * interval '1 minute'),"
               "   'm', now() FROM generate_series(1, 20100) n", (FULL_CODE,))
    small = "crq" if large == "inc" else "inc"
    for i in range(5):
        add_ticket(db, small, f"S{i}", "nairobi", ["Kilimani", "Westlands"][i % 2], ["Plot 7 Ngong Rd", "N/A"][i % 2])
    with db.transaction():
        incremental_pass(db)
        assert db.execute("SELECT count(*) FROM pg_temp.geo_bulk_addresses").fetchone()[0] > 0  # the bulk path
    assert_equals_full_resolve(db)
    plus_codes = set(db.execute("SELECT * FROM tickets.geo_plus_codes"))
    assert plus_codes
    with db.transaction(force_rollback=True):
        db.execute(load_sql("geocode_resolve.sql"))
        assert set(db.execute("SELECT * FROM tickets.geo_plus_codes")) == plus_codes
