"""Thin tasks for the operators' interventions that run as deployments (flows/quarantine.py)."""

from __future__ import annotations

from prefect import task

from fleettickets import quarantine as quarantine_lib
from fleettickets.datasets import Dataset
from fleettickets.db import connect
from tasks.blocks import run_bucket, run_settings
from tasks.common import TASK_DEFAULTS, s3_errors


# Not retried: a key that is not there does not appear by waiting, and the operator reruns it.
@task(name="quarantine", **TASK_DEFAULTS)
@s3_errors
def quarantine(dataset: Dataset, key: str) -> quarantine_lib.Quarantined:
    """The file, wherever it is, to quarantine/ (fleettickets.quarantine.quarantine)."""
    bucket = run_bucket()
    with connect(run_settings().database_url, autocommit=True) as conn:
        return quarantine_lib.quarantine(conn, bucket.client, bucket.name, dataset, key)
