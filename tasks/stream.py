"""Thin steps over what the database remembers of a stream (fleettickets.stream_state), run on
the session that holds the dataset's writer lock.

The writer lock is a session-level advisory lock: one connection holds it for the whole run and
each file's transaction proves it is still held (`WriterLock`, checked by the `load` task).
`writer_lock` keeps that session open around the flow's steps; the tasks here find it by the
lock they are given (tasks take no connection: Prefect stores parameters). Not retried: a
session that ended has lost the lock, and another connection would not hold it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
from prefect import get_run_logger, task

from fleettickets import stream_state
from fleettickets.datasets import Dataset, parse_file_ts
from fleettickets.db import WriterLock, connect, hold_writer_lock
from fleettickets.freshness import Freshness, stream_freshness
from fleettickets.plan import PlannedFile, hold_after, plan_files
from fleettickets.storage import Listing
from fleettickets.stream_state import StreamState
from fleettickets.summary import RunSummary
from tasks.blocks import run_settings
from tasks.common import TASK_DEFAULTS

_SESSIONS: dict[WriterLock, psycopg.Connection] = {}  # the open session that holds each lock


@contextmanager
def writer_lock(dataset: Dataset, wait: bool) -> Iterator[WriterLock | None]:
    """One writer per dataset: the lock, held by one session while the block runs; None when
    another run holds it (with `wait`, queue behind it instead)."""
    with connect(run_settings().database_url, autocommit=True) as conn, \
            hold_writer_lock(conn, dataset, wait=wait) as lock:
        if lock is None:
            get_run_logger().warning("another ingest-%s run holds the writer lock; exiting", dataset.name)
            yield None
            return
        _SESSIONS[lock] = conn
        try:
            yield lock
        finally:
            del _SESSIONS[lock]


@task(name="read stream state", **TASK_DEFAULTS)
def read_stream_state(dataset: Dataset, lock: WriterLock, summary: RunSummary, reseed: bool,
                      from_key: str | None) -> StreamState:
    """Watermark and ledger; an applied file that was quarantined makes this run a full replay."""
    state = stream_state.start_run(_SESSIONS[lock], dataset, summary, reseed=reseed, from_key=from_key)
    if state.replay_owed:
        get_run_logger().warning("an applied file was quarantined: replaying the whole %s stream", dataset.name)
    return state


# Not a task run: planning reads nothing (the ledger came with the state), and each task run
# costs the flow tens of milliseconds.
def plan_stream(dataset: Dataset, listing: Listing, state: StreamState, summary: RunSummary) -> list[PlannedFile]:
    """Per listed file: apply, replay, archive, verify or hold back (fleettickets.plan)."""
    summary.skipped_keys = listing.skipped
    return plan_files(dataset, listing, state.ledger, state.watermark, reseed=state.reseed,
                      hold_after=hold_after(datetime.now(UTC), run_settings().future_tolerance_minutes))


@task(name="record run", **TASK_DEFAULTS)
def record_run(dataset: Dataset, lock: WriterLock, summary: RunSummary, state: StreamState) -> RunSummary:
    """The watermark after the files, the run's status, a replay owed no more, the run on import_meta."""
    return stream_state.finish_run(_SESSIONS[lock], dataset, summary, state)


def check_stream_freshness(summary: RunSummary, listing: Listing) -> Freshness:
    """Is the exporter keeping up? The newest file the run applied or listed, against the limit."""
    return stream_freshness(parse_file_ts(summary.watermark_after or ""), (f.ts for f in listing.files),
                            datetime.now(UTC), run_settings().stale_after_minutes)
