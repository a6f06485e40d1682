"""Task options every fleettickets task shares."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from prefect.cache_policies import NO_CACHE

from fleettickets.errors import FleetTicketsError

# Never cache: every run must look at the bucket and the database as they are now.
TASK_DEFAULTS: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}

F = TypeVar("F", bound=Callable[..., Any])


def _exception(state) -> BaseException | None:  # a Prefect state
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:
        return None
    return exc if isinstance(exc, BaseException) else None


def _may_get_better(exc: BaseException | None) -> bool | None:
    """False for what waiting never fixes (a wrong password, a missing bucket, a bad argument)."""
    retryable = getattr(exc, "retryable", None)
    if retryable is not None:
        return bool(retryable)
    if isinstance(exc, FleetTicketsError):
        return False  # domain errors name a file, a key or a setting to fix
    return None


def _may_recover(state, *, database: bool, bucket: bool) -> bool:  # a Prefect state
    """The one verdict behind every retry condition, for a task that uses the database, the bucket or both.

    An error that says whether waiting helps is taken at its word and a domain error is never
    retried; past that, a psycopg error is retried only when it is the connection (for a task
    that uses the database), and anything else only when the task calls the bucket (botocore's
    errors of an outage carry no verdict)."""
    exc = _exception(state)
    verdict = _may_get_better(exc)
    if verdict is not None:
        return verdict
    if database and isinstance(exc, psycopg.Error):
        return isinstance(exc, psycopg.OperationalError)
    return bucket


def db_connection_lost(task, task_run, state) -> bool:  # Prefect's callback shape
    """Retry only when the database connection failed; a bad file or a 401 never gets better."""
    return _may_recover(state, database=True, bucket=False)


def s3_may_recover(task, task_run, state) -> bool:  # Prefect's callback shape
    """Retry S3 outages (5xx, an endpoint that is down), never refused credentials or a missing bucket."""
    return _may_recover(state, database=False, bucket=True)


def s3_or_db_may_recover(task, task_run, state) -> bool:  # Prefect's callback shape
    """For a step that reads the bucket into a database transaction: retry outages of either (a
    `load` of several files raises only while none of them has committed, see tasks/ingest.py)."""
    return _may_recover(state, database=True, bucket=True)


# For tasks whose work is one database transaction: safe to run again from the start.
RETRY_ON_DB_CONNECTION_LOSS: dict[str, Any] = {
    "retries": 2, "retry_delay_seconds": [3, 10], "retry_condition_fn": db_connection_lost,
}

# S3 calls: botocore already retries single requests; these cover a longer outage.
RETRY_ON_S3: dict[str, Any] = {"retries": 3, "retry_delay_seconds": [2, 5, 15], "retry_condition_fn": s3_may_recover}


def s3_errors(fn: F) -> F:
    """Raise S3 errors an operator must fix as one StorageError naming the bucket, setting or block.

    Applied under @task, so the retry condition sees the StorageError (and does not retry it).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from tasks.blocks import run_bucket

        with run_bucket().errors():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


RETRY_ON_S3_OR_DB: dict[str, Any] = {**RETRY_ON_S3, "retry_condition_fn": s3_or_db_may_recover}
