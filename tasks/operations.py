"""Thin tasks for the operators' interventions that run as deployments (flows/quarantine.py)."""

from __future__ import annotations

from prefect import task

from fleettickets import quarantine as quarantine_lib
from fleettickets import storage
from fleettickets.config import Settings
from fleettickets.datasets import Dataset
from fleettickets.db import connect
from tasks.common import TASK_DEFAULTS


# Not retried: a key that is not there does not appear by waiting, and the operator reruns it.
@task(name="quarantine", **TASK_DEFAULTS)
def quarantine(settings: Settings, dataset: Dataset, key: str) -> quarantine_lib.Quarantined:
    """The file, wherever it is, to quarantine/ (fleettickets.quarantine.quarantine)."""
    with connect(settings.database_url, autocommit=True) as conn:
        return quarantine_lib.quarantine(conn, storage.make_s3_client(settings), settings.s3_bucket, dataset, key)
