"""Thin Prefect tasks over the Prefect-free library (fleettickets.*).

Tasks take no settings, connection or client (Prefect stores parameters; settings hold
secrets): they get them from the run's resources (tasks/blocks.py), and never cache: every
run must look at the bucket and the database as they are now.
"""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from fleettickets import storage
from fleettickets.apply import FileResult, apply_change_file
from fleettickets.datasets import Dataset
from fleettickets.db import WriterLock, connect
from fleettickets.plan import Action, PlannedFile
from fleettickets.transform import TransformStats, transform_file
from tasks.blocks import run_bucket, run_settings
from tasks.common import RETRY_ON_DB_CONNECTION_LOSS, RETRY_ON_S3, TASK_DEFAULTS, s3_errors


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


@task(name="download", **RETRY_ON_S3, **TASK_DEFAULTS)
@s3_errors
def download(planned: PlannedFile, workdir: Path) -> tuple[Path, str]:
    """The object on local disk, and the SHA-256 of its bytes (the file's identity)."""
    bucket = run_bucket()
    dest = workdir / planned.change.name
    return dest, storage.download(bucket.client, bucket.name, planned.change.key, dest)


@task(name="hash archived copy", **RETRY_ON_S3, **TASK_DEFAULTS)
@s3_errors
def archived_sha256(dataset: Dataset, planned: PlannedFile) -> str | None:
    """The SHA-256 of the archived original of a file (for files applied before the ledger
    recorded hashes)."""
    bucket = run_bucket()
    return storage.content_sha256(bucket.client, bucket.name, dataset.processed_prefix + planned.change.name)


@task(name="transform", **TASK_DEFAULTS)
def transform(planned: PlannedFile, raw_path: Path) -> tuple[Path, TransformStats]:
    staged = raw_path.with_suffix(".staged")
    stats = transform_file(planned.change.key, raw_path, staged)
    raw_path.unlink(missing_ok=True)
    return staged, stats


@task(name="apply", **RETRY_ON_DB_CONNECTION_LOSS, **TASK_DEFAULTS)
def apply(
    dataset: Dataset, planned: PlannedFile, sha256: str, staged: Path, stats: TransformStats,
    lock: WriterLock, dry_run: bool,
) -> FileResult:
    with connect(run_settings().database_url, autocommit=True) as conn:
        result = apply_change_file(
            conn, dataset, planned.change, sha256, staged, stats, lock=lock,
            late=planned.late, replay=planned.action is Action.REPLAY, dry_run=dry_run,
        )
    if planned.late:
        get_run_logger().warning(
            "%s is late (older than the watermark): applied under the never-older guard;"
            " %d rows were newer in the table", planned.change.key, result.stale,
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
