"""Geocoding runs against a local server speaking LocationIQ's protocol (tests/locationiq_server.py).

Library level (no Prefect): the ladder, the guard, the caches, the budget and every failure
mode of the provider. Tickets are written straight into tickets.inc / tickets.crq: their
typed columns are generated from `raw`, exactly as the loader's rows are.
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from fleettickets.config import ConfigurationError, Settings
from fleettickets.geocode import GeocodingReport, pluscode, run_geocoding
from fleettickets.geocode.budget import Budget
from fleettickets.geocode.normalise import distance_km
from fleettickets.geocode.providers import (
    DayLimitReached,
    ProviderConfigError,
    ProviderUnavailable,
    RateLimited,
    make_client,
)
from fleettickets.status import render_status, status
from tests.conftest import VENV_BIN
from tests.locationiq_server import FakeLocationIQ

NYALI = (-4.0370, 39.7080)  # the gazetteer's centroid
KILIMANI = (-1.2906, 36.7856)


# --- helpers (the flow tests import these) ---------------------------------------------------

def geocode(settings: Settings, budget: int | None = None) -> dict:
    """A run as production makes it (fleettickets.geocode.run_geocoding), as its JSON."""
    return run_geocoding(settings, budget).as_dict()


def render_report(report: dict) -> str:
    return GeocodingReport.from_dict(report).render()


def add_ticket(conn: psycopg.Connection, dataset: str, ticket_id: str, region: str, cluster: str | None,
               location: str | None, *, clock: str = "2026-06-14 08:00:00", bucket: str = "pending",
               actionable: bool = True) -> None:
    raw = {
        "ticket_id": ticket_id, "bucket": bucket, "is_actionable": "true" if actionable else "false",
        "region": region, "cluster": cluster, "location": location,
        "created_at_service": clock, "first_seen_at": clock,
    }
    conn.execute(f"INSERT INTO tickets.{dataset} (ticket_id, raw, source_key, file_ts)"  # noqa: S608
                 " VALUES (%s, %s, 'automations/test/changes/x.csv', now())", (ticket_id, json.dumps(raw)))


def placement(conn: psycopg.Connection, ticket_id: str) -> tuple[str | None, tuple[float, float] | None]:
    row = conn.execute("SELECT p.geom_precision, ST_Y(p.geom), ST_X(p.geom) FROM tickets.all_tickets t"
                       " LEFT JOIN tickets.all_placements p USING (dataset, ticket_id)"
                       " WHERE t.ticket_id = %s", (ticket_id,)).fetchone()
    return row[0], (row[1], row[2]) if row[1] is not None else None


def near(point: tuple[float, float] | None, target: tuple[float, float], km: float = 0.2) -> bool:
    return point is not None and distance_km(*point, *target) <= km


@pytest.fixture
def geo(db: psycopg.Connection) -> psycopg.Connection:
    """Empty ticket tables (db) and empty geocoding caches and budget; the gazetteer stays."""
    db.execute("TRUNCATE tickets.geo_locations, tickets.geo_clusters, tickets.geocoder_budget")
    return db


@pytest.fixture
def server():
    with FakeLocationIQ() as fake:
        yield fake


@pytest.fixture
def liq(database: str, server: FakeLocationIQ) -> Settings:
    """LocationIQ at the fake server; fast pacing and a short timeout for the tests."""
    return Settings(
        database_url=database, s3_endpoint_url=None, s3_bucket="unused", s3_region="us-east-1",
        geocoder_provider="locationiq", geocoder_api_key=server.key, geocoder_url=server.url,
        geocoder_daily_budget=100, geocoder_guard_km=25.0, geocoder_min_delay_seconds=0.01,
        geocoder_timeout_seconds=0.5,
    )


# --- the provider, one request at a time ------------------------------------------------------

def test_client_speaks_locationiq(liq, server):
    client = make_client(liq)
    hit = client.search("Argwings Kodhek Rd, Kilimani, Kenya", near=(*KILIMANI, 10))
    assert hit.status == "ok" and hit.places[0]["lat"] == "-1.2934900"
    sent = server.requests[-1]
    assert sent["countrycodes"] == "ke" and sent["limit"] == "5" and sent["format"] == "json"
    west, south, east, north = map(float, sent["viewbox"].split(","))
    assert south < KILIMANI[0] < north and west < KILIMANI[1] < east
    assert server.key not in json.dumps(hit.request) + json.dumps(hit.raw)

    miss = client.search("Nowhere Lane, Kilimani, Kenya")
    assert miss.status == "miss" and miss.raw == {"status": 404, "error": "Unable to geocode"}

    for scripted, expected in (("second", RateLimited), ("minute", RateLimited), ("day", DayLimitReached),
                               ("402", DayLimitReached), ("403", DayLimitReached),
                               ("500", ProviderUnavailable)):
        server.script.append(scripted)
        with pytest.raises(expected) as info:
            client.search("Argwings Kodhek Rd")
        if expected is RateLimited:
            assert info.value.retry_after == 1
        assert server.key not in str(info.value)

    server.mode, server.slow_seconds = "slow", 1.5
    before = server.count
    with pytest.raises(ProviderUnavailable, match="GeocoderTimedOut"):
        client.search("Argwings Kodhek Rd")
    assert server.count == before + 1  # a timeout is one request: the adapter never retries

    wrong = make_client(liq.replace(geocoder_api_key="pk.wrong-key-XYZ"))
    with pytest.raises(ProviderConfigError, match="GEOCODER_API_KEY") as info:
        wrong.search("Argwings Kodhek Rd")
    assert "pk.wrong-key-XYZ" not in str(info.value) and info.value.__cause__ is None


def test_nominatim_server(geo, liq, server):
    """Any Nominatim-compatible server at GEOCODER_URL (here with a path prefix), no key."""
    osm = liq.replace(geocoder_provider="nominatim", geocoder_api_key=None, geocoder_url=server.url + "/osm")
    add_ticket(geo, "inc", "T1", "nairobi", "Kilimani", "Argwings Kodhek Rd")
    add_ticket(geo, "inc", "T2", "nairobi", "Kilimani", "Nowhere Lane")
    report = geocode(osm)
    assert server.count == 2 and (report["locations"]["ok"], report["locations"]["miss"]) == (1, 1)
    assert geo.execute("SELECT DISTINCT provider FROM tickets.geo_locations").fetchall() == [("nominatim",)]
    assert placement(geo, "T1")[0] == "location" and placement(geo, "T2")[0] == "cluster"


def test_provider_configuration_errors(liq, server):
    with pytest.raises(ProviderConfigError, match="needs GEOCODER_API_KEY"):
        make_client(liq.replace(geocoder_api_key=None))
    with pytest.raises(ProviderConfigError, match="needs GEOCODER_URL"):
        make_client(liq.replace(geocoder_provider="nominatim", geocoder_url=None))
    with pytest.raises(ConfigurationError, match="GEOCODER_PROVIDER must be one of offline, locationiq, nominatim"):
        liq.replace(geocoder_provider="google")  # settings refuse it before a client is made
    assert make_client(liq.replace(geocoder_provider="offline")) is None
    assert server.key not in repr(liq) + str(liq)


# --- whole runs --------------------------------------------------------------------------------

def test_guard_dedup_rerun_and_ladder(geo, liq, server):
    add_ticket(geo, "inc", "INC1", "nairobi", "Kilimani", "Argwings Kodhek Rd, Block A")
    add_ticket(geo, "inc", "INC2", "nairobi", "Kilimani", "argwings  kodhek RD,\nblock a")  # same address
    add_ticket(geo, "crq", "CRQ1", "nairobi", "Kilimani", "Argwings Kodhek Rd - Block A")  # and in CRQ
    add_ticket(geo, "inc", "INC3", "coast", "Nyali", "Moi Avenue")  # answered in Nairobi: rejected
    add_ticket(geo, "inc", "INC4", "rift valley", "Nakuru", "Kenyatta Avenue")  # right town ranked 2nd
    add_ticket(geo, "inc", "INC5", "nairobi", "Kilimani", "N/A")  # never asked
    add_ticket(geo, "inc", "INC6", "nairobi", "Kilimani", "Argwings Kodhek Rd", bucket="closed")  # not asked
    add_ticket(geo, "inc", "INC7", "nairobi", "Kilimani", "Argwings Kodhek Road", actionable=False)  # nor it
    add_ticket(geo, "inc", "INC8", "nairobi", "Westlands", "Nowhere Lane")  # a genuine miss

    report = geocode(liq)

    queries = server.queries()
    # one request per normalised (region, cluster, location), whichever spelling asks
    assert sorted(q for q in queries if not q.startswith("Argwings")) == [
        "Kenyatta Avenue, Nakuru, Kenya", "Moi Avenue, Nyali, Kenya", "Nowhere Lane, Westlands, Kenya"]
    assert len([q for q in queries if q.startswith("Argwings Kodhek Rd")]) == 1 and len(queries) == 4
    assert report["requests"]["this_run"] == 4 and report["requests"]["today"] == 4
    assert report["requests"]["left"] == liq.geocoder_daily_budget - 4
    loc = report["locations"]
    assert (loc["asked"], loc["ok"], loc["miss"], loc["guard_rejected"]) == (4, 2, 1, 1)
    for tid in ("INC1", "INC2", "CRQ1"):
        precision, point = placement(geo, tid)
        assert precision == "location" and near(point, (-1.29349, 36.78838)), tid
    precision, point = placement(geo, "INC3")
    assert precision == "cluster" and near(point, NYALI)  # the guard sent it back to its cluster
    precision, point = placement(geo, "INC4")
    assert precision == "location" and near(point, (-0.2869, 36.0663))  # Nakuru's Kenyatta Avenue
    assert placement(geo, "INC5")[0] == placement(geo, "INC8")[0] == "cluster"
    assert report["coverage"]["all"]["none"] == 0 and report["coverage"]["all"]["placed_pct"] == 100.0
    rejected = geo.execute("SELECT distance_km, raw->0->>'display_name', expires_at > now()"
                           " FROM tickets.geo_locations WHERE status = 'guard_rejected'").fetchone()
    assert rejected[0] > 400 and "Nairobi" in rejected[1] and rejected[2]
    text = render_report(report)
    assert "location 4" in text and "1 guard rejected" in text

    # a rerun costs nothing and rewrites no ticket
    versions = geo.execute("SELECT ticket_id, xmin::text FROM tickets.inc ORDER BY 1").fetchall()
    again = geocode(liq)
    assert server.count == 4 and again["requests"]["this_run"] == 0
    assert again["resolved"] == {"inc": 0, "crq": 0}
    assert geo.execute("SELECT ticket_id, xmin::text FROM tickets.inc ORDER BY 1").fetchall() == versions

    # an expired miss is asked again
    geo.execute("UPDATE tickets.geo_locations SET expires_at = now() - interval '1 second'"
                " WHERE status = 'miss'")
    geocode(liq)
    assert server.queries()[4:] == ["Nowhere Lane, Westlands, Kenya"]


def test_rongai_resolves_by_region(geo, liq, server):
    add_ticket(geo, "inc", "NBI", "nairobi", "Rongai", "Rongai stage")
    add_ticket(geo, "inc", "NKU", "rift valley", "Rongai", "Rongai stage")
    add_ticket(geo, "crq", "NBI-C", "nairobi", "Rongai", "N/A")
    add_ticket(geo, "crq", "NKU-C", "rift valley", "rongai", "")
    geocode(liq)
    assert server.count == 2  # same text, two clusters: two questions
    precision, point = placement(geo, "NBI")
    assert precision == "location" and near(point, (-1.396, 36.760))
    precision, point = placement(geo, "NKU")
    assert precision == "location" and near(point, (-0.171, 35.865))
    assert placement(geo, "NBI-C") == ("cluster", pytest.approx((-1.3953, 36.764)))
    assert placement(geo, "NKU-C") == ("cluster", pytest.approx((-0.17344, 35.86313)))


def test_plus_codes_cost_nothing(geo, liq, server):
    full = pluscode.encode(-1.2890, 36.7870)
    short = pluscode.encode(-1.2950, 36.7800)[4:]
    mombasa = pluscode.encode(-4.05, 39.66)
    add_ticket(geo, "inc", "FULL", "nairobi", "Kilimani", full)
    add_ticket(geo, "inc", "SHORT", "nairobi", "Kilimani", f"Baraka Court, {short} Kilimani")
    add_ticket(geo, "crq", "CLOSED", "nairobi", "Kilimani", f"{short} Kilimani", bucket="closed")
    add_ticket(geo, "inc", "FAR", "nairobi", "Kilimani", mombasa)  # a Mombasa code on a Kilimani ticket

    report = geocode(liq)

    assert server.count == 0 and report["requests"]["this_run"] == 0
    assert report["locations"]["plus_codes"] == 3 and report["locations"]["plus_codes_rejected"] == 1
    targets = {"FULL": (-1.2890, 36.7870), "SHORT": (-1.2950, 36.7800), "CLOSED": (-1.2950, 36.7800)}
    for tid, target in targets.items():
        precision, point = placement(geo, tid)
        assert precision == "plus_code" and near(point, target, 0.02), tid
    assert placement(geo, "FAR") == ("cluster", pytest.approx(KILIMANI))


def test_an_outage_caches_nothing_and_the_next_run_retries(geo, liq, server):
    for i, (cluster, address) in enumerate([("Kilimani", "Argwings Kodhek Rd"), ("Nyali", "Links Road"),
                                            ("Kisumu", "Oginga Odinga Street"), ("Bungoma", "Kanduyi Road")]):
        region = {"Kilimani": "nairobi", "Nyali": "coast", "Kisumu": "nyanza", "Bungoma": "western"}[cluster]
        add_ticket(geo, "inc", f"T{i}", region, cluster, address)
    server.mode = "outage"

    report = geocode(liq)

    assert server.count == 3  # three 5xx in a row end the run's requests
    assert "unavailable" in report["requests"]["stopped"] and report["locations"]["waiting"] == 4
    assert geo.execute("SELECT count(*) FROM tickets.geo_locations").fetchone()[0] == 0
    assert {placement(geo, f"T{i}")[0] for i in range(4)} == {"cluster"}

    server.mode = "slow"  # answers arrive after the client's timeout: not an answer either
    geocode(liq)
    assert server.count == 6
    assert geo.execute("SELECT count(*) FROM tickets.geo_locations").fetchone()[0] == 0

    server.mode = None
    report = geocode(liq)
    assert server.count == 10 and report["locations"]["ok"] == 4
    assert {placement(geo, f"T{i}")[0] for i in range(4)} == {"location"}


@pytest.mark.parametrize("limit", ["second", "minute"])
def test_a_rate_limit_is_waited_out(geo, liq, server, limit):
    add_ticket(geo, "inc", "T1", "nairobi", "Kilimani", "Argwings Kodhek Rd")
    server.script.append(limit)  # Retry-After: 1
    started = time.monotonic()
    report = geocode(liq)
    assert time.monotonic() - started >= 1.0
    assert server.count == 2 and server.requests[1]["at"] - server.requests[0]["at"] >= 1.0
    assert report["locations"]["ok"] == 1 and report["requests"]["stopped"] is None
    assert placement(geo, "T1")[0] == "location"


@pytest.mark.parametrize("refusal", ["day", "402", "403"])
def test_the_day_limit_stops_spending(geo, liq, server, refusal):
    for i, address in enumerate(["Argwings Kodhek Rd", "Argwings Kodhek Rd 2", "Argwings Kodhek Rd 3"]):
        add_ticket(geo, "inc", f"T{i}", "nairobi", "Kilimani", address, clock=f"2026-06-1{i} 08:00:00")
    if refusal == "day":
        server.day_limit_after = 1
    else:
        server.script.extend([None, refusal])

    report = geocode(liq)

    assert server.count == 2  # one answer, then the refusal: nothing more today
    assert report["requests"]["left"] == 0 and report["requests"]["stopped"]
    assert geo.execute("SELECT count(*) FROM tickets.geo_locations").fetchone()[0] == 1
    stopped = geo.execute("SELECT stopped_reason FROM tickets.geocoder_budget").fetchone()[0]
    assert stopped and server.key not in stopped

    server.day_limit_after = None
    again = geocode(liq)  # another run the same day sends nothing
    assert server.count == 2 and again["requests"]["this_run"] == 0 and again["locations"]["waiting"] == 2
    assert placement(geo, "T0")[0] == "location" and placement(geo, "T2")[0] == "cluster"


def test_budget_spends_on_the_most_urgent_first(geo, liq, server):
    clocks = {"Links Road": "2026-06-10 08:00:00", "Argwings Kodhek Rd": "2026-06-12 08:00:00",
              "Kenyatta Avenue": "2026-06-11 08:00:00", "Oginga Odinga Street": "2026-06-13 08:00:00"}
    where = {"Links Road": ("coast", "Nyali"), "Argwings Kodhek Rd": ("nairobi", "Kilimani"),
             "Kenyatta Avenue": ("rift valley", "Nakuru"), "Oginga Odinga Street": ("nyanza", "Kisumu")}
    for i, (address, clock) in enumerate(clocks.items()):
        add_ticket(geo, "crq", f"C{i}", *where[address], address, clock=clock)

    report = geocode(liq.replace(geocoder_daily_budget=2))
    assert [q.split(",")[0] for q in server.queries()] == ["Links Road", "Kenyatta Avenue"]
    assert report["requests"]["left"] == 0 and report["locations"]["waiting"] == 2

    report = geocode(liq.replace(geocoder_daily_budget=10), budget=1)  # --budget 1
    assert [q.split(",")[0] for q in server.queries()][2:] == ["Argwings Kodhek Rd"]
    assert report["requests"]["this_run"] == 1 and report["requests"]["left"] == 7


def test_the_budget_holds_under_concurrent_reservations(geo, database):
    """Eight writers race for a budget of 40: exactly 40 requests are granted, slots spaced."""
    granted: list[float] = []
    lock = threading.Lock()

    def spend(_: int) -> None:
        with psycopg.connect(database, autocommit=True) as conn:
            budget = Budget(conn, "locationiq", daily_limit=40, min_delay=0.002)
            while (slot := budget.reserve()) is not None:
                with lock:
                    granted.append(slot.wait_seconds)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(spend, range(8)))
    assert len(granted) == 40
    assert geo.execute("SELECT requests FROM tickets.geocoder_budget").fetchone()[0] == 40


def test_two_runs_at_once_share_the_budget(geo, liq, server, monkeypatch, prefect_server):
    """A CLI `fleettickets geocode` (the flow, another process) and a library run race."""
    addresses = ["Argwings Kodhek Rd", "Links Road", "Kenyatta Avenue", "Oginga Odinga Street",
                 "Kanduyi Road", "Moi Avenue"]
    where = [("nairobi", "Kilimani"), ("coast", "Nyali"), ("rift valley", "Nakuru"), ("nyanza", "Kisumu"),
             ("western", "Bungoma"), ("coast", "Nyali")]
    for i, (address, (region, cluster)) in enumerate(zip(addresses, where, strict=True)):
        add_ticket(geo, "inc" if i % 2 else "crq", f"T{i}", region, cluster, address)
    env = {"GEOCODER_PROVIDER": "locationiq", "GEOCODER_API_KEY": server.key, "GEOCODER_URL": server.url,
           "GEOCODER_DAILY_BUDGET": "4", "GEOCODER_MIN_DELAY_SECONDS": "0.05",
           "GEOCODER_TIMEOUT_SECONDS": "3"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = liq.replace(geocoder_daily_budget=4, geocoder_timeout_seconds=3)
    server.mode, server.slow_seconds = "slow", 0.5  # each answer takes half a second

    proc = subprocess.Popen([str(VENV_BIN / "fleettickets"), "geocode"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while server.count == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # the other process is now sending requests
    mine = geocode(settings)
    out, err = proc.communicate(timeout=120)

    assert proc.returncode == 0, err
    assert server.count == 4  # never more than the day's budget, whoever asked
    assert geo.execute("SELECT requests FROM tickets.geocoder_budget").fetchone()[0] == 4
    # this run found the other one sending, and left the requests to it (or, had it been first, sent them)
    assert mine["locations"]["skipped"] == "another run is sending requests" or mine["requests"]["this_run"]
    assert "geocoding (locationiq)" in out and server.key not in out + err
    assert geo.execute("SELECT count(*) FROM tickets.geo_locations").fetchone()[0] == 4  # none asked twice
    assert len(set(server.queries())) == 4


def test_a_rejected_key_fails_loudly_and_never_leaks(geo, liq, server, caplog):
    add_ticket(geo, "inc", "T1", "nairobi", "Kilimani", "Argwings Kodhek Rd")
    caplog.set_level(logging.DEBUG)
    secret = "pk.rejected-SECRET-0000"
    with pytest.raises(ProviderConfigError, match="HTTP 401") as info:
        geocode(liq.replace(geocoder_api_key=secret))
    assert secret not in str(info.value) and secret not in caplog.text
    assert geo.execute("SELECT count(*) FROM tickets.geo_locations").fetchone()[0] == 0


def test_secrets_stay_out_of_caches_logs_and_reports(geo, liq, server, caplog):
    caplog.set_level(logging.DEBUG)
    add_ticket(geo, "inc", "T1", "nairobi", "Kilimani", "Argwings Kodhek Rd")
    add_ticket(geo, "inc", "T2", "nairobi", "Kwa Mbao", "somewhere near the stage")
    report = geocode(liq)
    assert server.count == 3 and "key=***" in caplog.text  # geopy's debug line, redacted
    stored = geo.execute("SELECT string_agg(concat_ws(' ', query, request::text, raw::text), ' ')"
                         " FROM tickets.geo_locations").fetchone()[0]
    stored += geo.execute("SELECT string_agg(concat_ws(' ', query, raw::text), ' ') FROM tickets.geo_clusters"
                          " WHERE raw IS NOT NULL").fetchone()[0]
    for text in (stored, caplog.text, json.dumps(report), render_report(report), repr(liq)):
        assert server.key not in text


def test_unmatched_clusters_are_listed_and_placed_once(geo, liq, server):
    add_ticket(geo, "inc", "T1", "nairobi", "Kwa Mbao", "N/A")  # the gazetteer does not know it
    add_ticket(geo, "inc", "T2", "nairobi", "Atlantis", "N/A")  # nobody knows it
    add_ticket(geo, "crq", "T3", "nairobi", None, "N/A")  # no cluster at all

    offline = geocode(liq.replace(geocoder_provider="offline"))
    assert server.count == 0
    unmatched = {(u["cluster"], u["placed_by"]) for u in offline["clusters"]["unmatched"]}
    assert unmatched == {("Kwa Mbao", None), ("Atlantis", None), (None, None)}
    assert offline["coverage"]["all"]["none"] == 3

    report = geocode(liq)
    assert sorted(server.queries()) == ["Atlantis, Nairobi, Kenya", "Kwa Mbao, Nairobi, Kenya"]
    assert {(u["cluster"], u["placed_by"]) for u in report["clusters"]["unmatched"]} == {
        ("Kwa Mbao", "locationiq"), ("Atlantis", None), (None, None)}
    assert placement(geo, "T1") == ("cluster", pytest.approx((-1.25, 36.95)))
    assert placement(geo, "T2")[0] is None
    geocode(liq)
    assert server.count == 2  # asked once; the miss waits for its expiry

    shown = status(liq.replace(s3_endpoint_url="http://127.0.0.1:9"), s3_client=object())
    assert {u["cluster"] for u in shown["inc"]["unmatched_clusters"]} == {"Kwa Mbao", "Atlantis"}
    assert shown["inc"]["geocoder"]["today"] == 2 and shown["inc"]["geocoded"]["none"] == 1
    text = render_status(shown)
    assert "unmatched clusters:" in text and "Kwa Mbao (nairobi) 1" in text
    assert "geocoder locationiq: 2 requests today" in text
