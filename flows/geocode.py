"""Flow `geocode`: the geocoding steps alone (`fleettickets geocode [--budget N]`).

The ingest flows run the same steps after their files are applied (tasks/geocode.py).
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from fleettickets.config import Settings
from fleettickets.geocode import GeocodingReport
from tasks.geocode import run_geocoding


@flow(name="geocode", log_prints=True)
def geocode(budget: int | None = None) -> GeocodingReport:
    """Match clusters, decode plus codes, ask the provider within the budget, place the tickets that changed."""
    report = run_geocoding(Settings.from_env(), budget)  # clusters, locations, resolve, coverage artifact
    get_run_logger().info("%s", report.render())          # the run's report, once
    return report
