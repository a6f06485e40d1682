"""The coverage report: what the tables hold now, read from the counts the placing passes keep.

Nothing here scans a ticket table: tickets by precision come from tickets.geo_coverage,
tickets per cluster from tickets.geo_cluster_tickets (migrations/08_incremental_geocoding.sql).
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from fleettickets.config import Settings
from fleettickets.db import connect, load_sql
from fleettickets.geocode.budget import BudgetState, budget_state
from fleettickets.geocode.report import (
    ClusterStep,
    Counts,
    Coverage,
    GeocodingReport,
    LocationStep,
    Precision,
    Requests,
    ResolveStep,
    ScopeCoverage,
    UnmatchedCluster,
)


def coverage(conn: psycopg.Connection) -> Coverage:
    """Per dataset: tickets by precision, all and open."""
    counts: dict[tuple[str, bool], dict[Precision, int]] = {}
    for dataset, precision, pending, tickets in conn.execute(load_sql("geocode_coverage.sql")):
        by = counts.setdefault((dataset, pending), {})
        by[Precision(precision)] = by.get(Precision(precision), 0) + int(tickets)

    def scope(dataset: str) -> ScopeCoverage:
        closed, open_ = _counts(counts.get((dataset, False), {})), _counts(counts.get((dataset, True), {}))
        return ScopeCoverage(tickets=closed + open_, open=open_)

    return Coverage(inc=scope("inc"), crq=scope("crq"))


def _counts(by: dict[Precision, int]) -> Counts:
    return Counts(*(by.get(p, 0) for p in Precision))


def unmatched_clusters(conn: psycopg.Connection) -> tuple[UnmatchedCluster, ...]:
    return tuple(UnmatchedCluster(region, cluster, int(tickets), int(open_), placed_by)
                 for region, cluster, tickets, open_, placed_by in conn.execute(load_sql("geocode_unmatched.sql")))


def build_report(settings: Settings, clusters: ClusterStep, locations: LocationStep, resolved: ResolveStep, *,
                 budget: int | None = None, seconds: float | None = None) -> GeocodingReport:
    """The run's report: its steps, and coverage, requests and unmatched clusters as they are now."""
    provider = settings.geocoder_provider
    with connect(settings.database_url, autocommit=True) as conn:
        cov = coverage(conn)
        unmatched = unmatched_clusters(conn)
        state = (budget_state(conn, provider, settings.geocoder_daily_budget) if provider != "offline"
                 else BudgetState(provider="offline", day_utc=None, today=0, daily_budget=0, left=0, stopped=None))
    return GeocodingReport(
        provider=provider,
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        seconds=seconds,
        coverage=cov,
        requests=Requests(
            this_run=clusters.requests + locations.requests, run_budget=budget, today=state.today,
            daily_budget=state.daily_budget, left=state.left,
            stopped=state.stopped or locations.stopped or clusters.stopped,
        ),
        clusters=clusters,
        locations=locations,
        unmatched=unmatched,
        resolved=clusters.placed + resolved.placed,
    )
