"""Thin Prefect tasks over the Prefect-free library (fleettickets.*).

Tasks take no settings, connection or client (Prefect stores parameters; settings hold
secrets): they get them from the run's resources (tasks/blocks.py), and never cache: every
run must look at the bucket and the database as they are now.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from prefect import get_run_logger, task
from prefect.futures import PrefectFuture
from psycopg import Connection

from fleettickets import storage
from fleettickets.apply import FileResult, apply_change_file, prepare_session
from fleettickets.bucket import Bucket
from fleettickets.datasets import Dataset
from fleettickets.db import WriterLock, connect
from fleettickets.plan import Action, PlannedFile
from tasks.blocks import run_bucket, run_settings
from tasks.common import RETRY_ON_S3, RETRY_ON_S3_OR_DB, TASK_DEFAULTS, s3_errors

# Called with a file of the batch and its SHA-256 before that file commits (apply.IdentityCheck).
BatchIdentityCheck = Callable[[PlannedFile, str], None]


@task(name="list changes", **RETRY_ON_S3, **TASK_DEFAULTS)
@s3_errors
def list_changes(dataset: Dataset, reseed: bool, from_key: str | None) -> storage.Listing:
    bucket = run_bucket()
    if reseed:
        listing = storage.list_replay_files(bucket.client, bucket.name, dataset, from_key)
    else:
        listing = storage.list_change_files(bucket.client, bucket.name, dataset)
    logger = get_run_logger()
    for key in listing.skipped:
        logger.info("skipped %s: not a change file (<YYYY-MM-DDTHH-mm-ss>.csv)", key)
    logger.info("%d change files listed under %s", len(listing.files), dataset.root)
    return listing


@task(name="verify bytes", **RETRY_ON_S3, **TASK_DEFAULTS)
@s3_errors
def object_sha256(planned: PlannedFile) -> str:
    """The SHA-256 of a file's bytes, read through (the same bytes uploaded again?)."""
    bucket = run_bucket()
    return storage.object_sha256(bucket.client, bucket.name, planned.change.key)


@task(name="hash archived copy", **RETRY_ON_S3, **TASK_DEFAULTS)
@s3_errors
def archived_sha256(dataset: Dataset, planned: PlannedFile) -> str | None:
    """The SHA-256 of the archived original of a file (for files applied before the ledger
    recorded hashes)."""
    bucket = run_bucket()
    return storage.content_sha256(bucket.client, bucket.name, dataset.processed_prefix + planned.change.name)


def batch_name(files: list[PlannedFile]) -> str:
    """`<name>`, or `<first> .. <last> (N files)`: which files a task run took, for the UI."""
    if len(files) == 1:
        return files[0].change.name
    return f"{files[0].change.name} .. {files[-1].change.name} ({len(files)} files)"


def _load_run_name(parameters: dict[str, Any]) -> str:
    return f"load {batch_name(parameters['batch'])}"


def _archive_run_name(parameters: dict[str, Any]) -> str:
    return f"archive {batch_name([planned for planned, _ in parameters['files']])}"


# One task for download -> transform -> upsert: they are one pass over the bytes (the object
# streams into COPY while it arrives), so they cannot be steps that wait for each other. A
# failure anywhere rolls the file back, and the retry runs the whole pass again.
#
# One task run for a batch of consecutive small files (fleettickets.plan.next_batch), on one
# connection, each file in its own transaction, in order. A task run costs about as much as
# applying a 400-row delta (~55 ms alone): a backlog of 150 such deltas, a `load` and an
# `archive` task run per file (306 task runs), took 33 s against 11.6 s for one psql per file
# (141 ms per file above it; ~0.10 s per `load` run, 7 s of the flow's time outside its tasks):
# ~50 ms per task run, with its connection and session set-up, on a quiet 2-core machine (~80
# ms on a busy one). Batched (4 `load` and 4 `archive` runs): 18 s against 13.3 s, 31 ms per file above it.
#
# Retries never re-apply a committed file: the batch raises only while nothing of it has
# committed in this attempt (so Prefect's retry, or the flow's stop at a bad file, sees the
# first file's error as it is). Once a file has committed, any error ends the batch early and
# returns the committed files; the flow archives them and starts a new batch at the file that
# failed, which then raises (or retries) on its own.
@task(name="load", task_run_name=_load_run_name, **RETRY_ON_S3_OR_DB, **TASK_DEFAULTS)
@s3_errors
def load(dataset: Dataset, batch: list[PlannedFile], identity: BatchIdentityCheck, lock: WriterLock,
         dry_run: bool) -> list[FileResult]:
    """The files of `batch` in order, each in its own transaction, while they load: the results of
    those that committed (counted, in a dry run), a prefix of `batch` and never empty."""
    bucket = run_bucket()
    results: list[FileResult] = []
    with connect(run_settings().database_url, autocommit=True) as conn:
        prepare_session(conn)
        for planned in batch:
            try:
                results.append(_load_one(conn, bucket, dataset, planned, identity, lock, dry_run))
            except Exception as exc:
                if not results:
                    raise  # nothing committed in this attempt: safe to retry, or the stream stops here
                get_run_logger().info(
                    "%s was not loaded (%s: %s); the %d files before it are done; it starts the next load",
                    planned.change.key, type(exc).__name__, exc, len(results))
                break
    return results


def _load_one(conn: Connection, bucket: Bucket, dataset: Dataset, planned: PlannedFile,
              identity: BatchIdentityCheck, lock: WriterLock, dry_run: bool) -> FileResult:
    key = planned.change.key
    result = apply_change_file(
        conn, dataset, planned.change, lambda: storage.object_blocks(bucket.client, bucket.name, key),
        identity=partial(identity, planned), lock=lock, late=planned.late, replay=planned.action is Action.REPLAY,
        dry_run=dry_run,
    )
    if result.strict_reader:
        get_run_logger().warning("%s: PostgreSQL's CSV parser refused the file; read by the strict reader", key)
    if planned.late:
        get_run_logger().warning(
            "%s is late (older than the watermark): applied under the never-older guard;"
            " %d rows were newer in the table", key, result.stale,
        )
    return result


@task(name="archive", task_run_name=_archive_run_name, **RETRY_ON_S3, **TASK_DEFAULTS)
@s3_errors
def archive(dataset: Dataset, files: list[tuple[PlannedFile, str | None]]) -> list[str]:
    """Move committed files to processed/, never over other bytes there (the files before such a
    target are moved, then it raises); a SHA-256 None: hash the file here. Again after a retry:
    a file already moved only has its source deleted (the target holds the same bytes)."""
    bucket = run_bucket()
    hashed = [(planned.change.name,
               sha256 or storage.stream_file_sha256(bucket.client, bucket.name, dataset, planned.change.name))
              for planned, sha256 in files]
    return storage.archive(bucket.client, bucket.name, dataset, hashed)


class ArchiveInFlight:
    """A batch's archive runs while the next batch loads: its files have committed, and archiving
    after commit is all the stream asks (a file committed and not yet archived is only archived by
    the next run). One at a time: `start` waits for the one before, and the run waits with
    `wait` before it records its end; an archive's error is raised there."""

    def __init__(self) -> None:
        self._running: PrefectFuture[list[str]] | None = None

    def start(self, dataset: Dataset, files: list[tuple[PlannedFile, str | None]]) -> None:
        self.wait()
        self._running = archive.submit(dataset, files)

    def wait(self) -> None:
        running, self._running = self._running, None
        if running is not None:
            running.result()
