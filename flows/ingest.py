"""Flows `ingest-inc` and `ingest-crq`: apply a dataset's change stream, exactly once, in order.

Each step is one line; the work is in tasks/ (thin) and fleettickets/ (the logic).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from prefect import flow, get_run_logger

from fleettickets.config import Settings
from fleettickets.datasets import get_dataset
from fleettickets.db import advisory_lock, connect
from fleettickets.errors import ChangeFileError
from fleettickets.ingest import RunSummary, plan_files, read_ledger, read_watermark, record_run
from tasks.ingest import apply, archive, download, list_changes, transform
from tasks.report import publish_run_artifacts


class IngestFailed(Exception):
    """The run stopped at a file; the message names the file and the reason."""

    def __init__(self, message: str, summary: dict) -> None:
        super().__init__(message)
        self.summary = summary


def ingest(dataset_name: str, reseed: bool, from_key: str | None, dry_run: bool, wait: bool) -> dict:
    settings = Settings.from_env()
    dataset = get_dataset(dataset_name)
    logger = get_run_logger()
    summary = RunSummary(dataset.name, "dry-run" if dry_run else "reseed" if reseed else "normal")

    with connect(settings.database_url, autocommit=True) as conn, \
            advisory_lock(conn, dataset.lock_name, wait=wait) as locked:       # one writer per dataset
        if not locked:
            logger.warning("another ingest-%s run holds the writer lock; exiting", dataset.name)
            return summary.finish("locked").as_dict()
        summary.watermark_before = read_watermark(conn, dataset)
        listing = list_changes(settings, dataset, reseed, from_key)              # list changes
        summary.skipped_keys = listing.skipped
        plan = plan_files(dataset, listing, read_ledger(conn, dataset),          # what to do per file
                          summary.watermark_before, reseed=reseed)
        with tempfile.TemporaryDirectory(prefix=f"fleettickets-{dataset.name}-") as workdir:
            for planned in plan:
                try:
                    if planned.action != "archive":
                        raw = download(settings, planned, Path(workdir))         # download
                        staged, stats = transform(planned, raw)                  # transform
                        summary.files.append(                                    # apply (one txn)
                            apply(settings, dataset, planned, staged, stats, dry_run))
                    else:
                        summary.archived_only.append(planned.change.key)
                    if planned.change.in_changes and not dry_run:
                        archive(settings, dataset, planned)                      # archive
                except ChangeFileError as exc:                                   # stop at a bad file
                    summary.finish("failed", str(exc))
                    break
        summary.watermark_after = read_watermark(conn, dataset)
        if summary.status == "running":
            summary.finish("completed")
        if not dry_run:
            record_run(conn, summary)                                            # last run on import_meta
    publish_run_artifacts(summary)                                               # UI: watermark, summary
    logger.info(summary.render())
    if summary.status == "failed":
        raise IngestFailed(
            f"ingest-{dataset.name} stopped at {summary.error}. Earlier files stayed committed;"
            f" fix the exporter or run: fleettickets quarantine {dataset.name} <key>",
            summary.as_dict(),
        )
    return summary.as_dict()


@flow(name="ingest-inc", log_prints=True)
def ingest_inc(reseed: bool = False, from_key: str | None = None, dry_run: bool = False,
               wait: bool = False) -> dict:
    """Apply the INC change stream (and record INC history)."""
    return ingest("inc", reseed, from_key, dry_run, wait)


@flow(name="ingest-crq", log_prints=True)
def ingest_crq(reseed: bool = False, from_key: str | None = None, dry_run: bool = False,
               wait: bool = False) -> dict:
    """Apply the CRQ change stream."""
    return ingest("crq", reseed, from_key, dry_run, wait)


INGEST_FLOWS = {"inc": ingest_inc, "crq": ingest_crq}
