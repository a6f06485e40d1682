"""A thin Prefect task over fleettickets.geocode: geocode clusters, geocode locations, resolve.

`run_geocoding` runs the library's orchestration (fleettickets.geocode.run_geocoding) in one
task run, `geocode tickets`, after a run's files are applied (ingest-inc, ingest-crq) and in the
`geocode` flow, then publishes the coverage artifact. Tasks take no settings (they hold
secrets, and Prefect stores parameters): they read the run's settings (tasks/blocks.py), and
never cache. Only database connection failures are retried: a
401 is a configuration error and fails the task at once; rate limits, day limits and
outages are handled inside the step (nothing is cached, the next run asks again).
"""

from __future__ import annotations

import logging

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from fleettickets import geocode as geo
from fleettickets.geocode.report import GeocodingReport, Precision
from tasks.blocks import run_settings
from tasks.common import RETRY_ON_DB_CONNECTION_LOSS, TASK_DEFAULTS


def _steps(logger: logging.Logger | logging.LoggerAdapter) -> geo.Steps:
    """The library's steps, logging to the task run."""
    return geo.Steps(
        clusters=lambda settings, budget: geo.geocode_clusters(settings, budget, logger=logger),
        locations=lambda settings, budget: geo.geocode_locations(settings, budget, logger=logger),
        resolve=geo.resolve_geoms,
    )


@task(name="geocode tickets", **RETRY_ON_DB_CONNECTION_LOSS, **TASK_DEFAULTS)
def geocode_tickets(budget: int | None = None) -> GeocodingReport:
    """geocode clusters -> geocode locations -> resolve ticket geoms -> the coverage artifact, in one
    task run (each task run costs the flow tens of milliseconds and API calls; the report holds
    each step's seconds). A retry runs the steps again: each is idempotent (answers are cached,
    the budget is in the database)."""
    settings = run_settings()
    pending = geo.work_pending(settings)
    report = geo.run_geocoding(settings, budget, steps=_steps(get_run_logger()))
    if pending or report.did_work:
        publish_geocoding_coverage(report)
    return report


def publish_geocoding_coverage(report: GeocodingReport) -> None:
    """Keyed artifact `geocoding-coverage`: the UI keeps its history run by run. Not published again
    by a run that found nothing to take in and did nothing: the last one still holds."""
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
    """geocode clusters -> geocode locations -> resolve ticket geoms -> coverage artifact (task `geocode tickets`).

    Call inside a flow, after the run's files are applied. `budget` caps this run's requests
    (None: only the day's budget, GEOCODER_DAILY_BUDGET, applies). The caller logs
    `report.render()`: the ingest flows inside their run summary, the geocode flow on its own.
    """
    return geocode_tickets(budget)
