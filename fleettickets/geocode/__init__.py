"""Geocoding, Prefect-free: every ticket on the map with an honest precision.

Ladder (docs/design.md): `plus_code` (decoded offline) > `location` (a provider's hit within the
cluster's guard radius) > `cluster` (the gazetteer centroid) > none.

    steps.py      the steps of a run and `run_geocoding`, the one order they run in
    coverage.py   the coverage report, read from the counts the placing passes keep
    report.py     the report model and its rendering
    requester.py  requests within the budget; budget.py the shared daily budget
    providers.py  the provider protocol; gazetteer.py the shipped place list;
    pluscode.py   plus codes in free text; normalise.py matching keys and queries
"""

from fleettickets.geocode.gazetteer import GAZETTEER_VERSION, load_gazetteer, read_gazetteer
from fleettickets.geocode.normalise import normalise
from fleettickets.geocode.report import (
    ClusterStep,
    GeocodingReport,
    LocationStep,
    Placed,
    Precision,
    ResolveStep,
)
from fleettickets.geocode.steps import (
    Steps,
    geocode_clusters,
    geocode_locations,
    resolve_geoms,
    run_geocoding,
    work_pending,
)

__all__ = [
    "GAZETTEER_VERSION", "ClusterStep", "GeocodingReport", "LocationStep", "Placed", "Precision", "ResolveStep",
    "Steps", "geocode_clusters", "geocode_locations", "load_gazetteer", "normalise", "read_gazetteer",
    "resolve_geoms", "run_geocoding", "work_pending",
]
