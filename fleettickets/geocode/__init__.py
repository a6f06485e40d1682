"""Geocoding, Prefect-free: every ticket on the map with an honest precision.

Ladder (docs/design.md): `plus_code` (decoded offline) > `location` (a provider's hit within the
cluster's guard radius) > `cluster` (the gazetteer centroid) > none. See run.py for the
steps, providers.py for the provider protocol, gazetteer.py for the shipped place list.
"""

from fleettickets.geocode.gazetteer import GAZETTEER_VERSION, load_gazetteer, read_gazetteer
from fleettickets.geocode.normalise import normalise
from fleettickets.geocode.run import (
    ClusterStep,
    LocationStep,
    build_report,
    geocode,
    geocode_clusters,
    geocode_locations,
    render_report,
    resolve_geoms,
)

__all__ = [
    "GAZETTEER_VERSION", "ClusterStep", "LocationStep", "build_report", "geocode", "geocode_clusters",
    "geocode_locations", "load_gazetteer", "normalise", "read_gazetteer", "render_report", "resolve_geoms",
]
