"""The geocoding steps of a run, Prefect-free, and the one order they run in.

    geocode_clusters   take in the tickets that changed since the last pass (new clusters
                       matched against the gazetteer, tickets placed from what is cached),
                       then ask the provider once for `cluster, region, Kenya` where nothing
                       matched
    geocode_locations  decode plus codes (offline, every new location text); then ask the
                       provider for the addresses of open work, most urgent first, within
                       the day's budget
    resolve_geoms      place the tickets whose answers arrived in this run (or meanwhile)

`run_geocoding` runs them in that order and builds the report; the Prefect tasks in
tasks/geocode.py hand it their task-wrapped steps, so production and the tests run the
same orchestration and budget arithmetic. Each step opens its own connection from the
settings. Only one run at a time sends requests (a non-blocking advisory lock: a second
run skips its requests and still places); the budget in the database holds regardless.

Every pass is incremental (migrations/08_incremental_geocoding.sql): its work follows what
changed, not the size of the tables. `resolve_geoms(settings, full=True)` is the full
resolve (every ticket, every count rebuilt).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg
from psycopg.types.json import Jsonb

from fleettickets.config import Settings
from fleettickets.db import advisory_lock, connect, load_sql
from fleettickets.geocode import pluscode
from fleettickets.geocode.budget import Budget
from fleettickets.geocode.coverage import build_report
from fleettickets.geocode.normalise import distance_km, in_kenya, query_text
from fleettickets.geocode.providers import make_client
from fleettickets.geocode.report import (
    Answer,
    ClusterStep,
    GeocodingReport,
    LocationStep,
    Placed,
    ResolveStep,
    StepReport,
)
from fleettickets.geocode.requester import Requester

if TYPE_CHECKING:  # geopy is imported only when a provider is configured
    from fleettickets.geocode.geopy_client import GeocoderClient

log = logging.getLogger(__name__)
Logger = logging.Logger | logging.LoggerAdapter

REQUEST_LOCK = "fleettickets.geocode.requests"
MISS_TTL_DAYS = 30  # misses and guard rejections are asked again after this
# An answer that is only the centroid of an area (a suburb, a town, a county) is no better
# than the cluster's own centroid: for an address it counts as a miss, never as `location`.
AREA_TYPES = frozenset({
    "country", "state", "region", "province", "county", "state_district", "district", "administrative",
    "municipality", "city", "town", "village", "hamlet", "suburb", "quarter", "neighbourhood", "locality",
})


def pending(conn: psycopg.Connection) -> bool:
    """Whether an incremental pass has anything to take in (geocode_pending.sql): the queues and
    a few index probes, no ticket table."""
    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")  # geo_locations by its expiry index, whatever its statistics
        conn.execute("SET LOCAL jit = off")  # the costs seqscan = off gives would compile the plan (~0.3 s)
        return bool(conn.execute(load_sql("geocode_pending.sql")).fetchone()[0])


def work_pending(settings: Settings) -> bool:
    with connect(settings.database_url, autocommit=True) as conn:
        return pending(conn)


def place_changed(conn: psycopg.Connection, *, full: bool = False) -> Placed:
    """One placing pass (incremental, or the full resolve): placements written per dataset. An
    incremental pass with nothing to take in is not made (its set-up alone costs tens of ms)."""
    if not full and not pending(conn):
        return Placed()
    rows = dict(conn.execute(load_sql("geocode_resolve.sql" if full else "geocode_place_changed.sql")))
    return Placed(inc=int(rows.get("inc", 0)), crq=int(rows.get("crq", 0)))


def run_budget(budget: int | None) -> int | None:
    return None if budget is None else max(int(budget), 0)


def budget_left(budget: int | None, spent: StepReport) -> int | None:
    """What a run's request budget leaves for the next step (None: only the day's budget)."""
    return None if budget is None else max(budget - spent.requests, 0)


def _skip_reason(client: GeocoderClient | None, budget: int | None) -> str | None:
    if client is None:
        return "offline provider"
    if budget == 0:
        return "no requests allowed in this run"
    return None


# --- clusters ------------------------------------------------------------------------------------

def geocode_clusters(settings: Settings, budget: int | None = None, *, logger: Logger = log) -> ClusterStep:
    """Take in changed tickets; ask the provider for the clusters the gazetteer does not know."""
    started = time.monotonic()
    client = make_client(settings)
    step = ClusterStep(provider=client.name if client else "offline")
    with connect(settings.database_url, autocommit=True) as conn:
        step.placed = place_changed(conn)
        todo = conn.execute(load_sql("geocode_clusters_todo.sql")).fetchall()
        step.skipped = _skip_reason(client, budget) if todo else None
        if todo and step.skipped is None:
            assert client is not None
            with advisory_lock(conn, REQUEST_LOCK, wait=False) as got:
                if got:
                    _ask_clusters(conn, settings, client, run_budget(budget), todo, step, logger)
                else:
                    step.skipped = "another run is sending requests"
            if step.ok:  # newly placed clusters: their tickets, and their addresses for the next step
                step.placed = step.placed + place_changed(conn)
        step.known, step.gazetteer, step.provider_placed, _ = conn.execute(
            load_sql("geocode_cluster_counts.sql")).fetchone()
    step.seconds = round(time.monotonic() - started, 3)
    return step


def _ask_clusters(conn: psycopg.Connection, settings: Settings, client: GeocoderClient, budget: int | None,
                  todo: list[tuple], step: ClusterStep, logger: Logger) -> None:
    requester = Requester(client, Budget(conn, client.name, settings.geocoder_daily_budget,
                                         settings.geocoder_min_delay_seconds), budget, logger)
    for region_key, cluster_key, region, cluster in todo:
        parts = (cluster.strip(), (region or "").strip().title(), "Kenya")
        query = ", ".join(p for p in parts if p)
        result = requester.ask(query, limit=3)
        if result is None:
            if requester.stopped:
                break
            continue
        step.asked += 1
        place = next((p for p in result.places if _point(p) and in_kenya(*_point(p))), None)
        lat, lon = _point(place) if place else (None, None)
        answer = Answer.OK if place else Answer.MISS
        step.count(answer)
        conn.execute(load_sql("geocode_store_cluster.sql"), {
            "provider": client.name, "status": answer.value, "lat": lat, "lon": lon, "query": query,
            "raw": Jsonb(result.raw), "ttl_days": MISS_TTL_DAYS,
            "region_key": region_key, "cluster_key": cluster_key,
        })
        logger.info("cluster %r (%s): %s via %s", cluster, region, answer, client.name)
    step.requests, step.stopped, step.errors = requester.requests, requester.stopped, requester.errors


def _point(place: dict | None) -> tuple[float, float] | None:
    try:
        return float(place["lat"]), float(place["lon"])  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        return None


# --- locations -----------------------------------------------------------------------------------

def choose_candidate(places: list[dict], lat: float, lon: float,
                     guard_km: float) -> tuple[Answer, dict | None, float | None]:
    """(OK, place, km) for the provider's best-ranked candidate inside the guard radius,
    else (GUARD_REJECTED, nearest, km); (MISS, None, None) when no candidate is a point
    more precise than an area centroid."""
    scored = []
    for place in places:
        point = _point(place)
        if point is not None and not is_area(place):
            scored.append((distance_km(lat, lon, *point), place, point))
    if not scored:
        return Answer.MISS, None, None
    for km, place, point in scored:  # the provider's order is its ranking
        if km <= guard_km and in_kenya(*point):
            return Answer.OK, place, km
    km, place, _ = min(scored, key=lambda s: s[0])
    return Answer.GUARD_REJECTED, place, km


def is_area(place: dict) -> bool:
    return place.get("class") in ("place", "boundary") and place.get("type") in AREA_TYPES


def decode_plus_codes(conn: psycopg.Connection, settings: Settings, step: LocationStep) -> list[dict]:
    """Every location text with a '+' not decoded yet: its answer, in one statement; returns
    the keys answered.

    A short code in a cluster without a centroid stays on the list (its cluster may be placed
    later); a text holding no usable code leaves it.
    """
    rows = conn.execute(load_sql("geocode_plus_code_candidates.sql"),
                        {"guard_km": settings.geocoder_guard_km}).fetchall()
    answers, done = [], []
    for region_key, cluster_key, location_key, location, lat, lon, guard_km in rows:
        key = {"region_key": region_key, "cluster_key": cluster_key, "location_key": location_key}
        ref = (lat, lon) if lat is not None else None
        found = pluscode.locate(location, ref)
        if found is None:
            if ref is not None or not pluscode.needs_reference(location):
                done.append(key)
            continue
        code, area = found
        km = distance_km(lat, lon, area.latitude, area.longitude) if ref else None
        inside = in_kenya(area.latitude, area.longitude) and (km is None or km <= guard_km)
        if inside:
            step.plus_codes += 1
        else:
            step.plus_codes_rejected += 1
        answers.append(key | {
            "location": location, "query": code, "status": (Answer.OK if inside else Answer.GUARD_REJECTED).value,
            "lat": area.latitude, "lon": area.longitude,
            "distance_km": round(km, 3) if km is not None else None,
            "raw": {"code": code, "south": area.south, "west": area.west, "north": area.north,
                    "east": area.east, "digits": area.digits},
        })
        done.append(key)
    if done:
        conn.execute(load_sql("geocode_store_plus_codes.sql"),
                     {"answers": Jsonb(answers), "done": Jsonb(done), "ttl_days": MISS_TTL_DAYS})
    return [{k: a[k] for k in ("region_key", "cluster_key", "location_key")} for a in answers]


def geocode_locations(settings: Settings, budget: int | None = None, *, logger: Logger = log) -> LocationStep:
    """Plus codes for every new location (offline), then the provider for open work's addresses."""
    started = time.monotonic()
    client = make_client(settings)
    step = LocationStep(provider=client.name if client else "offline")
    with connect(settings.database_url, autocommit=True) as conn:
        answered = decode_plus_codes(conn, settings, step)
        if step.plus_codes or step.plus_codes_rejected:
            logger.info("plus codes decoded offline: %d placed, %d outside their cluster's guard radius",
                        step.plus_codes, step.plus_codes_rejected)
        step.candidates = conn.execute(load_sql("geocode_location_waiting.sql"),
                                       {"answered": Jsonb(answered)}).fetchone()[0]
        step.skipped = _skip_reason(client, budget) if step.candidates else None
        if step.candidates and step.skipped is None:
            assert client is not None
            with advisory_lock(conn, REQUEST_LOCK, wait=False) as got:
                if got:
                    _ask_locations(conn, settings, client, run_budget(budget), step, logger)
                else:
                    step.skipped = "another run is sending requests"
        step.waiting = step.candidates - step.asked
    step.seconds = round(time.monotonic() - started, 3)
    return step


def _ask_locations(conn: psycopg.Connection, settings: Settings, client: GeocoderClient, budget: int | None,
                   step: LocationStep, logger: Logger) -> None:
    # No run can send more than this many requests: fetch no more candidates than that.
    limit = settings.geocoder_daily_budget if budget is None else min(budget, settings.geocoder_daily_budget)
    candidates = conn.execute(load_sql("geocode_location_candidates.sql"),
                              {"guard_km": settings.geocoder_guard_km, "limit": limit}).fetchall()
    requester = Requester(client, Budget(conn, client.name, settings.geocoder_daily_budget,
                                         settings.geocoder_min_delay_seconds), budget, logger)
    for region_key, cluster_key, location_key, location, cluster, lat, lon, guard_km in candidates:
        query = query_text(location, cluster)
        result = requester.ask(query, near=(lat, lon, guard_km))
        if result is None:
            if requester.stopped:
                break
            continue
        step.asked += 1
        answer, place, km = Answer.MISS, None, None
        if result.status == "ok":
            answer, place, km = choose_candidate(result.places, lat, lon, guard_km)
        step.count(answer)
        point = _point(place) if answer is Answer.OK else None
        conn.execute(load_sql("geocode_store_location.sql"), {
            "region_key": region_key, "cluster_key": cluster_key, "location_key": location_key,
            "location": location, "query": query, "request": Jsonb(result.request), "provider": client.name,
            "status": answer.value, "precision": "location" if point else None,
            "lat": point[0] if point else None, "lon": point[1] if point else None,
            "distance_km": round(km, 3) if km is not None else None, "candidates": len(result.places),
            "raw": Jsonb(result.raw), "ttl_days": MISS_TTL_DAYS,
        })
        if answer is Answer.GUARD_REJECTED:
            logger.info("%r: every candidate outside %.0f km of %s (nearest %.1f km): cluster precision",
                        query, guard_km, cluster, km)
    step.requests, step.stopped, step.errors = requester.requests, requester.stopped, requester.errors
    if step.stopped:
        logger.warning("location requests stopped: %s", step.stopped)


# --- placing -------------------------------------------------------------------------------------

def resolve_geoms(settings: Settings, *, full: bool = False) -> ResolveStep:
    """Place the tickets whose answers arrived (or that changed) since the last pass."""
    started = time.monotonic()
    with connect(settings.database_url, autocommit=True) as conn:
        placed = place_changed(conn, full=full)
    return ResolveStep(placed=placed, seconds=round(time.monotonic() - started, 3))


# --- the run -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Steps:
    """The steps a run calls: these library functions, or the Prefect tasks that wrap them."""

    clusters: Callable[[Settings, int | None], ClusterStep] = geocode_clusters
    locations: Callable[[Settings, int | None], LocationStep] = geocode_locations
    resolve: Callable[[Settings], ResolveStep] = resolve_geoms


LIBRARY_STEPS = Steps()


def run_geocoding(settings: Settings, budget: int | None = None, steps: Steps = LIBRARY_STEPS) -> GeocodingReport:
    """clusters -> locations -> resolve, then the report. `budget` caps this run's requests
    (None: only the day's budget, GEOCODER_DAILY_BUDGET, applies)."""
    started = time.monotonic()
    clusters = steps.clusters(settings, budget)
    locations = steps.locations(settings, budget_left(budget, clusters))
    resolved = steps.resolve(settings)
    return build_report(settings, clusters, locations, resolved, budget=budget,
                        seconds=round(time.monotonic() - started, 2))
