"""Flows `geocode` (the geocoding steps alone: `fleettickets geocode [--budget N]`) and
`geocode-catch-up` (the same steps as an operator's deployment, with a validated budget).

The ingest flows run the same steps after their files are applied (tasks/geocode.py).
"""

from __future__ import annotations

from typing import Annotated

from prefect import get_run_logger
from pydantic import Field

from fleettickets.geocode import GeocodingReport
from flows.plain_flow import plain_flow
from tasks.blocks import run_resources
from tasks.geocode import run_geocoding


@plain_flow(name="geocode", log_prints=True)
def geocode(budget: int | None = None) -> GeocodingReport:
    """Match clusters, decode plus codes, ask the provider within the budget, place the tickets that changed."""
    run_resources()                                       # settings and blocks first: a bad setting fails early
    report = run_geocoding(budget)                        # clusters, locations, resolve, coverage artifact
    get_run_logger().info("%s", report.render())          # the run's report, once
    return report


@plain_flow(name="geocode-catch-up", log_prints=True)
def geocode_catch_up(
    budget: Annotated[int, Field(ge=1, description="At most this many provider requests in this run"
                                                  " (GEOCODER_DAILY_BUDGET still applies).")] = 1000,
) -> GeocodingReport:
    """Work the geocoding backlog (deployment `geocode-catch-up/on-demand`, started by an operator).

    The steps of the `geocode` flow, in this run (its logs and artifacts are this run's), with at
    most `budget` provider requests, e.g. after an outage or a quota day left addresses waiting.
    """
    return geocode.fn(budget=budget)
