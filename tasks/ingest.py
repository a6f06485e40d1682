"""Thin Prefect tasks over the Prefect-free library (fleettickets.*).

Tasks take no settings, connection or client (Prefect stores parameters; settings hold
secrets): they get them from the run's resources (tasks/blocks.py), and never cache: every
run must look at the bucket and the database as they are now.
"""

from __future__ import annotations

from prefect import get_run_logger, task

from fleettickets import storage
from fleettickets.apply import FileResult, IdentityCheck, apply_change_file, prepare_session
from fleettickets.datasets import Dataset
from fleettickets.db import WriterLock, connect
from fleettickets.plan import Action, PlannedFile
from tasks.blocks import run_bucket, run_settings
from tasks.common import RETRY_ON_S3, RETRY_ON_S3_OR_DB, TASK_DEFAULTS, s3_errors


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


# One task for download -> transform -> upsert: they are one pass over the bytes (the object
# streams into COPY while it arrives), so they cannot be steps that wait for each other. A
# failure anywhere rolls the file back, and the retry runs the whole pass again.
@task(name="load", task_run_name="load {planned.change.name}", **RETRY_ON_S3_OR_DB, **TASK_DEFAULTS)
@s3_errors
def load(dataset: Dataset, planned: PlannedFile, identity: IdentityCheck | None, lock: WriterLock,
         dry_run: bool) -> FileResult:
    bucket = run_bucket()
    key = planned.change.key
    with connect(run_settings().database_url, autocommit=True) as conn:
        prepare_session(conn)
        result = apply_change_file(
            conn, dataset, planned.change, lambda: storage.object_blocks(bucket.client, bucket.name, key),
            identity=identity, lock=lock, late=planned.late, replay=planned.action is Action.REPLAY,
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


@task(name="archive", **RETRY_ON_S3, **TASK_DEFAULTS)
@s3_errors
def archive(dataset: Dataset, planned: PlannedFile, sha256: str | None) -> str:
    """Move the file to processed/ (never over other bytes there); `sha256` None: hash it here."""
    bucket = run_bucket()
    if sha256 is None:
        sha256 = storage.content_sha256(bucket.client, bucket.name, planned.change.key)
    return storage.archive(bucket.client, bucket.name, dataset, planned.change.name, sha256)
