"""Thin tasks for the operators' interventions that run as deployments (flows/quarantine.py)."""

from __future__ import annotations

from prefect import task

from fleettickets import storage
from fleettickets.config import Settings
from fleettickets.datasets import Dataset
from tasks.common import TASK_DEFAULTS


# Not retried: a key that is not there does not appear by waiting, and the operator reruns it.
@task(name="quarantine", **TASK_DEFAULTS)
def quarantine(settings: Settings, dataset: Dataset, key: str) -> str:
    """changes/KEY -> quarantine/KEY (fleettickets.storage.quarantine); returns the new key."""
    return storage.quarantine(storage.make_s3_client(settings), settings.s3_bucket, dataset, key)
