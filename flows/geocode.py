"""Flow `geocode`: the geocoding steps alone (`fleettickets geocode [--budget N]`).

The ingest flows run the same steps after their files are applied (tasks/geocode.py).
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from fleettickets.geocode import render_report
from tasks.blocks import run_resources
from tasks.geocode import run_geocoding


@flow(name="geocode", log_prints=True)
def geocode(budget: int | None = None) -> dict:
    """Match clusters, decode plus codes, ask the provider within the budget, place every ticket."""
    run_resources()  # settings and blocks first: a bad setting fails the run before any work
    report = run_geocoding(budget)
    get_run_logger().info("%s", render_report(report))
    return report
