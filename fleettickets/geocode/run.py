"""The geocoding steps of a run, Prefect-free: clusters, locations, resolve, report.

    geocode_clusters   match every ticket cluster against the gazetteer (offline); ask the
                       provider once for `cluster, region, Kenya` where nothing matched
    geocode_locations  decode plus codes (offline, all tickets); then ask the provider for the
                       addresses of open work, most urgent first, within the day's budget
    resolve_geoms      tickets.resolve_ticket_geoms(): every ticket's point and precision
    build_report       coverage by precision, requests spent and left, unmatched clusters

`geocode()` runs them in that order. Each step opens its own connection from the settings,
so the Prefect tasks in tasks/geocode.py are one call each. Only one run at a time sends
requests (a non-blocking advisory lock: a second run skips its requests and still resolves);
the budget in the database holds regardless.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from fleettickets.config import Settings
from fleettickets.db import advisory_lock, connect, load_sql
from fleettickets.geocode import pluscode
from fleettickets.geocode.budget import Budget, budget_state
from fleettickets.geocode.normalise import distance_km, in_kenya, is_geocodable, query_text
from fleettickets.geocode.providers import (
    DayLimitReached,
    GeocoderClient,
    ProviderUnavailable,
    RateLimited,
    SearchResult,
    make_client,
)

log = logging.getLogger(__name__)

REQUEST_LOCK = "fleettickets.geocode.requests"
MISS_TTL_DAYS = 30  # misses and guard rejections are asked again after this
MAX_RETRY_AFTER_SECONDS = 120.0  # a longer Retry-After ends this run's requests instead
MAX_RATE_LIMIT_RETRIES = 3  # per query
MAX_CONSECUTIVE_OUTAGES = 3  # 5xx / timeouts in a row end this run's requests
CANDIDATES_PER_QUERY = 5
PRECISIONS = ("plus_code", "location", "cluster", "none")
# An answer that is only the centroid of an area (a suburb, a town, a county) is no better
# than the cluster's own centroid: for an address it counts as a miss, never as `location`.
AREA_TYPES = frozenset({
    "country", "state", "region", "province", "county", "state_district", "district", "administrative",
    "municipality", "city", "town", "village", "hamlet", "suburb", "quarter", "neighbourhood", "locality",
})
_DEFAULT = object()


@dataclass
class StepReport:
    """What one geocoding step asked the provider and how it ended."""

    provider: str
    asked: int = 0
    ok: int = 0
    miss: int = 0
    requests: int = 0
    stopped: str | None = None
    skipped: str | None = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ClusterStep(StepReport):
    known: int = 0
    gazetteer: int = 0
    provider_placed: int = 0


@dataclass
class LocationStep(StepReport):
    plus_codes: int = 0
    plus_codes_rejected: int = 0
    candidates: int = 0
    guard_rejected: int = 0
    waiting: int = 0  # candidates left for a later run (budget, stop, outage)


class _Requester:
    """Sends requests within the budget: pacing, Retry-After, day stops, outages."""

    def __init__(self, client: GeocoderClient, budget: Budget, run_limit: int | None,
                 logger: logging.Logger | logging.LoggerAdapter) -> None:
        self.client = client
        self.budget = budget
        self.run_limit = run_limit
        self.log = logger
        self.requests = 0
        self.outages = 0
        self.stopped: str | None = None
        self.errors: list[str] = []

    def ask(self, query: str, *, near: tuple[float, float, float] | None = None,
            limit: int = CANDIDATES_PER_QUERY) -> SearchResult | None:
        """The provider's genuine answer, or None (not asked, or no answer: see `stopped`)."""
        rate_limited = 0
        while self.stopped is None:
            if self.run_limit is not None and self.requests >= self.run_limit:
                self.stopped = f"this run's budget of {self.run_limit} requests is spent"
                break
            slot = self.budget.reserve()
            if slot is None:
                state = self.budget.state()
                self.stopped = (f"stopped for the day: {state['stopped']}" if state["stopped"]
                                else f"today's budget of {self.budget.daily_limit} requests is spent")
                break
            if slot.wait_seconds > 0:
                time.sleep(slot.wait_seconds)
            self.requests += 1
            try:
                result = self.client.search(query, near=near, limit=limit)
            except RateLimited as exc:
                rate_limited += 1
                wait = 1.0 if exc.retry_after is None else float(exc.retry_after)
                if wait > MAX_RETRY_AFTER_SECONDS or rate_limited > MAX_RATE_LIMIT_RETRIES:
                    self.stopped = f"rate limited (Retry-After {wait:.0f}s)"
                    break
                self.log.info("%s; waiting %.1fs as Retry-After asks", exc, wait)
                self.budget.back_off(wait)
                time.sleep(wait)
                continue
            except DayLimitReached as exc:
                self.budget.stop_for_day(str(exc))
                self.stopped = str(exc)
                self.log.warning("%s: no more requests until 00:00 UTC", exc)
                break
            except ProviderUnavailable as exc:
                self.outages += 1
                self.errors.append(str(exc))
                self.log.warning("%s; nothing cached, the next run asks again", exc)
                if self.outages >= MAX_CONSECUTIVE_OUTAGES:
                    self.stopped = f"{exc} {self.outages} times in a row"
                return None
            self.outages = 0
            return result
        return None


def _client(settings: Settings, client: Any) -> GeocoderClient | None:
    return make_client(settings) if client is _DEFAULT else client


def _limit(budget: int | None) -> int | None:
    return None if budget is None else max(int(budget), 0)


def geocode_clusters(settings: Settings, *, budget: int | None = None, client: Any = _DEFAULT,
                     logger: logging.Logger | logging.LoggerAdapter = log) -> ClusterStep:
    """Match clusters against the gazetteer; ask the provider for the ones nothing matched."""
    client = _client(settings, client)
    step = ClusterStep(provider=client.name if client else "offline")
    with connect(settings.database_url, autocommit=True) as conn:
        conn.execute(load_sql("geocode_match_clusters.sql"))
        todo = conn.execute(load_sql("geocode_clusters_todo.sql")).fetchall()
        if todo and client is None:
            step.skipped = "offline provider"
        elif todo and budget == 0:
            step.skipped = "no requests allowed in this run"
        elif todo:
            with advisory_lock(conn, REQUEST_LOCK, wait=False) as got:
                if not got:
                    step.skipped = "another run is sending requests"
                else:
                    budget_row = Budget(conn, client.name, settings.geocoder_daily_budget,
                                        settings.geocoder_min_delay_seconds)
                    requester = _Requester(client, budget_row, _limit(budget), logger)
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
                        status = "ok" if place else "miss"
                        setattr(step, status, getattr(step, status) + 1)
                        conn.execute(load_sql("geocode_store_cluster.sql"), {
                            "provider": client.name, "status": status, "lat": lat, "lon": lon, "query": query,
                            "raw": Jsonb(result.raw), "ttl_days": MISS_TTL_DAYS,
                            "region_key": region_key, "cluster_key": cluster_key,
                        })
                        logger.info("cluster %r (%s): %s via %s", cluster, region, status, client.name)
                    step.requests, step.stopped = requester.requests, requester.stopped
                    step.errors = requester.errors
        counts = conn.execute(load_sql("geocode_cluster_counts.sql")).fetchone()
        step.known, step.gazetteer, step.provider_placed = counts[0], counts[1], counts[2]
    return step


def _point(place: dict | None) -> tuple[float, float] | None:
    try:
        return float(place["lat"]), float(place["lon"])  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        return None


def choose_candidate(places: list[dict], lat: float, lon: float,
                     guard_km: float) -> tuple[str, dict | None, float | None]:
    """('ok', place, km) for the provider's best-ranked candidate inside the guard radius,
    else ('guard_rejected', nearest, km); ('miss', None, None) when no candidate is a point
    more precise than an area centroid."""
    scored = []
    for place in places:
        point = _point(place)
        if point is not None and not is_area(place):
            scored.append((distance_km(lat, lon, *point), place, point))
    if not scored:
        return "miss", None, None
    for km, place, point in scored:  # the provider's order is its ranking
        if km <= guard_km and in_kenya(*point):
            return "ok", place, km
    km, place, _ = min(scored, key=lambda s: s[0])
    return "guard_rejected", place, km


def is_area(place: dict) -> bool:
    return place.get("class") in ("place", "boundary") and place.get("type") in AREA_TYPES


def _decode_plus_codes(conn: psycopg.Connection, settings: Settings, step: LocationStep) -> None:
    rows = conn.execute(load_sql("geocode_plus_code_candidates.sql"),
                        {"guard_km": settings.geocoder_guard_km}).fetchall()
    for region_key, cluster_key, location_key, location, lat, lon, guard_km in rows:
        ref = (lat, lon) if lat is not None else None
        found = pluscode.locate(location, ref)
        if found is None:
            continue
        code, area = found
        km = distance_km(lat, lon, area.latitude, area.longitude) if ref else None
        inside = in_kenya(area.latitude, area.longitude) and (km is None or km <= guard_km)
        status = "ok" if inside else "guard_rejected"
        if inside:
            step.plus_codes += 1
        else:
            step.plus_codes_rejected += 1
        conn.execute(load_sql("geocode_store_location.sql"), {
            "region_key": region_key, "cluster_key": cluster_key, "location_key": location_key,
            "location": location, "query": code, "request": None, "provider": "plus_code",
            "status": status, "precision": "plus_code" if inside else None,
            "lat": area.latitude if inside else None, "lon": area.longitude if inside else None,
            "distance_km": round(km, 3) if km is not None else None, "candidates": 1,
            "raw": Jsonb({"code": code, "south": area.south, "west": area.west, "north": area.north,
                          "east": area.east, "digits": area.digits}),
            "ttl_days": MISS_TTL_DAYS,
        })


def geocode_locations(settings: Settings, *, budget: int | None = None, client: Any = _DEFAULT,
                      logger: logging.Logger | logging.LoggerAdapter = log) -> LocationStep:
    """Plus codes for every ticket (offline), then the provider for open work's addresses."""
    client = _client(settings, client)
    step = LocationStep(provider=client.name if client else "offline")
    with connect(settings.database_url, autocommit=True) as conn:
        conn.execute(load_sql("geocode_match_clusters.sql"))
        _decode_plus_codes(conn, settings, step)
        if step.plus_codes or step.plus_codes_rejected:
            logger.info("plus codes decoded offline: %d placed, %d outside their cluster's guard radius",
                        step.plus_codes, step.plus_codes_rejected)
        rows = conn.execute(load_sql("geocode_location_candidates.sql"),
                            {"guard_km": settings.geocoder_guard_km}).fetchall()
        candidates = [r for r in rows if is_geocodable(r[3], r[4])]
        step.candidates = len(candidates)
        if not candidates:
            return step
        if client is None:
            step.skipped = "offline provider"
        elif budget == 0:
            step.skipped = "no requests allowed in this run"
        else:
            with advisory_lock(conn, REQUEST_LOCK, wait=False) as got:
                if not got:
                    step.skipped = "another run is sending requests"
                else:
                    _ask_locations(conn, settings, client, budget, candidates, step, logger)
        step.waiting = step.candidates - step.asked
    return step


def _ask_locations(conn: psycopg.Connection, settings: Settings, client: GeocoderClient, budget: int | None,
                   candidates: list[tuple], step: LocationStep,
                   logger: logging.Logger | logging.LoggerAdapter) -> None:
    budget_row = Budget(conn, client.name, settings.geocoder_daily_budget,
                        settings.geocoder_min_delay_seconds)
    requester = _Requester(client, budget_row, _limit(budget), logger)
    for region_key, cluster_key, location_key, location, cluster, _tickets, lat, lon, guard_km in candidates:
        query = query_text(location, cluster)
        result = requester.ask(query, near=(lat, lon, guard_km))
        if result is None:
            if requester.stopped:
                break
            continue
        step.asked += 1
        status, place, km = ("miss", None, None)
        if result.status == "ok":
            status, place, km = choose_candidate(result.places, lat, lon, guard_km)
        setattr(step, status, getattr(step, status) + 1)
        point = _point(place) if status == "ok" else None
        conn.execute(load_sql("geocode_store_location.sql"), {
            "region_key": region_key, "cluster_key": cluster_key, "location_key": location_key,
            "location": location, "query": query, "request": Jsonb(result.request), "provider": client.name,
            "status": status, "precision": "location" if point else None,
            "lat": point[0] if point else None, "lon": point[1] if point else None,
            "distance_km": round(km, 3) if km is not None else None, "candidates": len(result.places),
            "raw": Jsonb(result.raw), "ttl_days": MISS_TTL_DAYS,
        })
        if status == "guard_rejected":
            logger.info("%r: every candidate outside %.0f km of %s (nearest %.1f km): cluster precision",
                        query, guard_km, cluster, km)
    step.requests, step.stopped, step.errors = requester.requests, requester.stopped, requester.errors
    if step.stopped:
        logger.warning("location requests stopped: %s", step.stopped)


def resolve_geoms(settings: Settings) -> dict[str, int]:
    """tickets.resolve_ticket_geoms(): rows whose point or precision changed, per dataset."""
    with connect(settings.database_url, autocommit=True) as conn:
        return {ds: int(n) for ds, n in conn.execute(load_sql("geocode_resolve.sql"))}


def coverage(conn: psycopg.Connection) -> dict[str, dict]:
    """Per dataset and 'all': tickets by precision, total, placed share; and the same for open tickets."""
    out: dict[str, dict] = {}
    for scope in ("inc", "crq", "all"):
        out[scope] = {p: 0 for p in PRECISIONS} | {"total": 0}
        out[scope]["open"] = {p: 0 for p in PRECISIONS} | {"total": 0}
    for dataset, precision, tickets, open_ in conn.execute(load_sql("geocode_coverage.sql")):
        key = precision or "none"
        for scope in (dataset, "all"):
            out[scope][key] += tickets
            out[scope]["total"] += tickets
            out[scope]["open"][key] += open_
            out[scope]["open"]["total"] += open_
    for scope in out.values():
        for part in (scope, scope["open"]):
            placed = part["total"] - part["none"]
            part["placed_pct"] = round(100.0 * placed / part["total"], 3) if part["total"] else None
    return out


def unmatched_clusters(conn: psycopg.Connection) -> list[dict]:
    return [
        {"region": region, "cluster": cluster, "tickets": tickets, "open": open_, "placed_by": placed_by}
        for region, cluster, tickets, open_, placed_by, _ in conn.execute(load_sql("geocode_unmatched.sql"))
    ]


def build_report(settings: Settings, clusters: ClusterStep | dict, locations: LocationStep | dict,
                 resolved: dict[str, int], *, budget: int | None = None,
                 seconds: float | None = None) -> dict:
    """The run's geocoding report as a plain dict (see `render_report`)."""
    clusters = clusters.as_dict() if isinstance(clusters, ClusterStep) else dict(clusters)
    locations = locations.as_dict() if isinstance(locations, LocationStep) else dict(locations)
    provider = settings.geocoder_provider
    with connect(settings.database_url, autocommit=True) as conn:
        cov = coverage(conn)
        unmatched = unmatched_clusters(conn)
        state = (budget_state(conn, provider, settings.geocoder_daily_budget) if provider != "offline"
                 else {"provider": "offline", "today": 0, "daily_budget": 0, "left": 0, "stopped": None})
    clusters["unmatched"] = unmatched
    return {
        "provider": provider,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": seconds,
        "coverage": cov,
        "requests": {
            "this_run": clusters["requests"] + locations["requests"],
            "run_budget": budget,
            "today": state["today"],
            "daily_budget": state["daily_budget"],
            "left": state["left"],
            "stopped": state["stopped"] or locations.get("stopped") or clusters.get("stopped"),
        },
        "clusters": clusters,
        "locations": locations,
        "resolved": resolved,
    }


def geocode(settings: Settings, *, budget: int | None = None, client: Any = _DEFAULT,
            logger: logging.Logger | logging.LoggerAdapter = log) -> dict:
    """All of it, in order: clusters, locations, resolve; returns the report."""
    started = time.monotonic()
    client = _client(settings, client)
    clusters = geocode_clusters(settings, budget=budget, client=client, logger=logger)
    left = None if budget is None else max(budget - clusters.requests, 0)
    locations = geocode_locations(settings, budget=left, client=client, logger=logger)
    resolved = resolve_geoms(settings)
    return build_report(settings, clusters, locations, resolved, budget=budget,
                        seconds=round(time.monotonic() - started, 2))


def _pct(part: int, total: int) -> str:
    return f"{100.0 * part / total:.1f}%" if total else "-"


def render_report(r: dict) -> str:
    """The one-screen geocoding summary (from `geocode()` / `build_report()`)."""
    cov, req, loc, cl = r["coverage"]["all"], r["requests"], r["locations"], r["clusters"]
    lines = [
        f"geocoding ({r['provider']}): {cov['total']} tickets,"
        f" placed {_pct(cov['total'] - cov['none'], cov['total'])}",
        "  by precision: " + "  ".join(f"{p} {cov[p]} ({_pct(cov[p], cov['total'])})" for p in PRECISIONS),
        "  open tickets: " + "  ".join(f"{p} {cov['open'][p]}" for p in PRECISIONS),
    ]
    for ds in ("inc", "crq"):
        c = r["coverage"][ds]
        lines.append(f"    {ds}: " + "  ".join(f"{p} {c[p]}" for p in PRECISIONS))
    budget = f" of {req['daily_budget']} ({req['left']} left)" if r["provider"] != "offline" else ""
    lines.append(f"  requests: {req['this_run']} this run, {req['today']} today (UTC){budget}"
                 + (f"; stopped: {req['stopped']}" if req["stopped"] else ""))
    lines.append(
        f"  locations: {loc['plus_codes']} plus codes decoded (free), {loc['asked']} asked: {loc['ok']} ok,"
        f" {loc['miss']} miss, {loc['guard_rejected']} guard rejected; {loc['waiting']} waiting"
        + (f" ({loc['skipped']})" if loc.get("skipped") else "")
    )
    unmatched = cl["unmatched"]
    lines.append(f"  clusters: {cl['known']} known, {cl['gazetteer']} from the gazetteer,"
                 f" {cl['provider_placed']} placed by the provider, {len(unmatched)} unmatched")
    for u in unmatched[:10]:
        name = u["cluster"] if u["cluster"] else "(no cluster)"
        placed = f", placed by {u['placed_by']}" if u["placed_by"] else ""
        lines.append(f"    unmatched: {name} ({u['region'] or '-'}):"
                     f" {u['tickets']} tickets, {u['open']} open{placed}")
    if len(unmatched) > 10:
        lines.append(f"    ... and {len(unmatched) - 10} more")
    errors = loc.get("errors", []) + cl.get("errors", [])
    if errors:
        lines.append(f"  provider errors (not cached): {len(errors)}, last: {errors[-1]}")
    return "\n".join(lines)
