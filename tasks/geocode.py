"""Thin Prefect tasks over fleettickets.geocode: geocode clusters, geocode locations, resolve.

`run_geocoding` runs the library's orchestration (fleettickets.geocode.run_geocoding) with
these tasks as its steps, after a run's files are applied (ingest-inc, ingest-crq) and in
the `geocode` flow, then publishes the coverage artifact. Tasks take no settings (they hold
secrets, and Prefect stores parameters): they read the run's settings (tasks/blocks.py), and
never cache. Only database connection failures are retried: a
401 is a configuration error and fails the task at once; rate limits, day limits and
outages are handled inside the step (nothing is cached, the next run asks again).
"""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from fleettickets import geocode as geo
from fleettickets.geocode.report import ClusterStep, GeocodingReport, LocationStep, Precision, ResolveStep
from tasks.blocks import run_settings
from tasks.common import RETRY_ON_DB_CONNECTION_LOSS, TASK_DEFAULTS


@task(name="geocode clusters", **RETRY_ON_DB_CONNECTION_LOSS, **TASK_DEFAULTS)
def geocode_clusters(budget: int | None = None) -> ClusterStep:
    """Changed tickets taken in and placed from the caches; clusters matched against the gazetteer,
    unmatched ones asked once: `cluster, region, Kenya`."""
    return geo.geocode_clusters(run_settings(), budget, logger=get_run_logger())


@task(name="geocode locations", **RETRY_ON_DB_CONNECTION_LOSS, **TASK_DEFAULTS)
def geocode_locations(budget: int | None = None) -> LocationStep:
    """Plus codes decoded offline; open work's addresses asked within the day's budget, most urgent first."""
    return geo.geocode_locations(run_settings(), budget, logger=get_run_logger())


@task(name="resolve ticket geoms", **RETRY_ON_DB_CONNECTION_LOSS, **TASK_DEFAULTS)
def resolve_ticket_geoms() -> ResolveStep:
    """The tickets whose answers arrived in this run placed (tickets.resolve_changed_ticket_geoms())."""
    return geo.resolve_geoms(run_settings())


# The library's order with these tasks as its steps; each task reads the run's own settings.
TASK_STEPS = geo.Steps(
    clusters=lambda _settings, budget: geocode_clusters(budget),
    locations=lambda _settings, budget: geocode_locations(budget),
    resolve=lambda _settings: resolve_ticket_geoms(),
)


@task(name="publish geocoding coverage", **TASK_DEFAULTS)
def publish_geocoding_coverage(report: GeocodingReport) -> None:
    """Keyed artifact `geocoding-coverage`: the UI keeps its history run by run."""
    if not flow_run.id:
        return
    req = report.requests
    create_table_artifact(
        key="geocoding-coverage",
        table=[
            {"dataset": name, **{p.value: scope.tickets[p] for p in Precision}, "total": scope.tickets.total,
             "placed_pct": scope.tickets.placed_pct, "open_placed_pct": scope.open.placed_pct,
             "requests_this_run": req.this_run, "requests_left_today": req.left}
            for name, scope in report.coverage.scopes().items()
        ],
        description="```\n" + report.render() + "\n```",
    )
    if report.unmatched:
        rows = [f"| {u.region or '-'} | {u.cluster or '(none)'} | {u.tickets} | {u.open} | {u.placed_by or '-'} |"
                for u in report.unmatched]
        create_markdown_artifact(
            key="geocoding-unmatched-clusters",
            markdown="| region | cluster | tickets | open | placed by |\n| --- | --- | --- | --- | --- |\n"
                     + "\n".join(rows),
            description="Clusters the gazetteer does not know: add them to fleettickets/data/gazetteer.csv",
        )


def run_geocoding(budget: int | None = None) -> GeocodingReport:
    """geocode clusters -> geocode locations -> resolve ticket geoms -> coverage artifact.

    Call inside a flow, after the run's files are applied. `budget` caps this run's requests
    (None: only the day's budget, GEOCODER_DAILY_BUDGET, applies). The caller logs
    `report.render()`: the ingest flows inside their run summary, the geocode flow on its own.
    """
    report = geo.run_geocoding(run_settings(), budget, steps=TASK_STEPS)
    publish_geocoding_coverage(report)
    return report
