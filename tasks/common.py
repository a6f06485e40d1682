"""Task options every fleettickets task shares."""

from __future__ import annotations

from typing import Any

import psycopg
from prefect.cache_policies import NO_CACHE

# Never cache: every run must look at the bucket and the database as they are now.
TASK_DEFAULTS: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}


def db_connection_lost(task, task_run, state) -> bool:  # noqa: ANN001 - Prefect's callback shape
    """Retry only when the database connection failed; a bad file or a 401 never gets better."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:  # noqa: BLE001
        return False
    return isinstance(exc, psycopg.OperationalError)


# For tasks whose work is one database transaction: safe to run again from the start.
RETRY_ON_DB_CONNECTION_LOSS: dict[str, Any] = {
    "retries": 2, "retry_delay_seconds": [3, 10], "retry_condition_fn": db_connection_lost,
}

# S3 calls: botocore already retries single requests; these cover a longer outage.
RETRY_ON_S3: dict[str, Any] = {"retries": 3, "retry_delay_seconds": [2, 5, 15]}
