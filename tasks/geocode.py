"""Thin Prefect tasks over fleettickets.geocode: geocode clusters, geocode locations, resolve.

`run_geocoding` strings them together after a run's files are applied (ingest-inc,
ingest-crq) and in the `geocode` flow. Tasks take no settings (they hold secrets, and
Prefect stores parameters): they read the run's settings (tasks/blocks.py), and never cache.
Only database connection failures are retried: a 401 is a
configuration error and fails the task at once; rate limits, day limits and outages are
handled inside the step (nothing is cached, the next run asks again).
"""

from __future__ import annotations

import time

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from fleettickets import geocode as geo
from tasks.blocks import run_settings
from tasks.common import RETRY_ON_DB_CONNECTION_LOSS, TASK_DEFAULTS


@task(name="geocode clusters", **RETRY_ON_DB_CONNECTION_LOSS, **TASK_DEFAULTS)
def geocode_clusters(budget: int | None = None) -> dict:
    """Ticket clusters matched against the gazetteer; unmatched ones asked once: `cluster, region, Kenya`."""
    return geo.geocode_clusters(run_settings(), budget=budget, logger=get_run_logger()).as_dict()


@task(name="geocode locations", **RETRY_ON_DB_CONNECTION_LOSS, **TASK_DEFAULTS)
def geocode_locations(budget: int | None = None) -> dict:
    """Plus codes decoded offline; open work's addresses asked within the day's budget, most urgent first."""
    return geo.geocode_locations(run_settings(), budget=budget, logger=get_run_logger()).as_dict()


@task(name="resolve ticket geoms", **RETRY_ON_DB_CONNECTION_LOSS, **TASK_DEFAULTS)
def resolve_ticket_geoms() -> dict[str, int]:
    """tickets.resolve_ticket_geoms(): every ticket's point and precision from the caches."""
    return geo.resolve_geoms(run_settings())


@task(name="publish geocoding coverage", **TASK_DEFAULTS)
def publish_geocoding_coverage(report: dict) -> None:
    """Keyed artifact `geocoding-coverage`: the UI keeps its history run by run."""
    if not flow_run.id:
        return
    cov, req = report["coverage"], report["requests"]
    create_table_artifact(
        key="geocoding-coverage",
        table=[
            {"dataset": ds, **{p: cov[ds][p] for p in geo.run.PRECISIONS}, "total": cov[ds]["total"],
             "placed_pct": cov[ds]["placed_pct"], "open_placed_pct": cov[ds]["open"]["placed_pct"],
             "requests_this_run": req["this_run"], "requests_left_today": req["left"]}
            for ds in ("inc", "crq", "all")
        ],
        description="```\n" + geo.render_report(report) + "\n```",
    )
    if report["clusters"]["unmatched"]:
        rows = [
            f"| {u['region'] or '-'} | {u['cluster'] or '(none)'} | {u['tickets']} | {u['open']}"
            f" | {u['placed_by'] or '-'} |" for u in report["clusters"]["unmatched"]
        ]
        create_markdown_artifact(
            key="geocoding-unmatched-clusters",
            markdown="| region | cluster | tickets | open | placed by |\n| --- | --- | --- | --- | --- |\n"
                     + "\n".join(rows),
            description="Clusters the gazetteer does not know: add them to fleettickets/data/gazetteer.csv",
        )


def run_geocoding(budget: int | None = None) -> dict:
    """geocode clusters -> geocode locations -> resolve ticket geoms -> coverage artifact.

    Call inside a flow, after the run's files are applied. `budget` caps this run's requests
    (None: only the day's budget, GEOCODER_DAILY_BUDGET, applies). Returns the report dict
    (fleettickets.geocode.render_report(report) prints it; the caller logs it: the ingest flows
    inside their run summary, the geocode flow on its own).
    """
    started = time.monotonic()
    clusters = geocode_clusters(budget)
    left = None if budget is None else max(budget - clusters["requests"], 0)
    locations = geocode_locations(left)
    resolved = resolve_ticket_geoms()
    report = geo.build_report(run_settings(), clusters, locations, resolved, budget=budget,
                              seconds=round(time.monotonic() - started, 2))
    publish_geocoding_coverage(report)
    return report
