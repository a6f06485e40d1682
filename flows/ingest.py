"""Flows `ingest-inc` and `ingest-crq`: apply a dataset's change stream, exactly once, in order.

Each step is one line; the work is in tasks/ (thin) and fleettickets/ (the logic).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger

from fleettickets.datasets import Dataset, get_dataset, parse_file_ts
from fleettickets.db import advisory_lock, connect
from fleettickets.errors import ChangeFileError
from fleettickets.freshness import check_freshness
from fleettickets.ingest import (
    PlannedFile,
    RunSummary,
    plan_files,
    read_ledger,
    read_watermark,
    record_run,
    republished_error,
)
from tasks.blocks import run_settings
from tasks.geocode import run_geocoding
from tasks.ingest import apply, archive, download, list_changes, transform
from tasks.report import Progress, name_flow_run, notify_failure, publish_run_artifacts


class IngestFailed(Exception):
    """The run stopped at a file; the message names the file and the reason."""

    def __init__(self, message: str, summary: dict) -> None:
        super().__init__(message)
        self.summary = summary


class SourceStale(IngestFailed):
    """Everything pending was applied, but the exporter has not delivered for too long."""


def ingest(dataset_name: str, reseed: bool, from_key: str | None, dry_run: bool, wait: bool,
           geocode: bool) -> dict:
    settings = run_settings()  # blocks, else the environment; read once per run
    dataset = get_dataset(dataset_name)
    logger = get_run_logger()
    summary = RunSummary(dataset.name, "dry-run" if dry_run else "reseed" if reseed else "normal")

    with connect(settings.database_url, autocommit=True) as conn, \
            advisory_lock(conn, dataset.lock_name, wait=wait) as locked:       # one writer per dataset
        if not locked:
            logger.warning("another ingest-%s run holds the writer lock; exiting", dataset.name)
            return summary.finish("locked").as_dict()
        summary.watermark_before = read_watermark(conn, dataset)
        listing = list_changes(dataset, reseed, from_key)                        # list changes
        summary.skipped_keys = listing.skipped
        plan = plan_files(dataset, listing, read_ledger(conn, dataset),          # apply, replay or archive
                          summary.watermark_before, reseed=reseed)
        apply_in_order(dataset, plan, summary, dry_run)                          # per file: download ->
        summary.watermark_after = read_watermark(conn, dataset)                  #  transform -> apply -> archive
        if summary.status == "running":
            summary.finish("completed")
        if not dry_run:
            record_run(conn, summary)                                            # last run on import_meta
    if geocode and not dry_run and summary.status != "locked":                   # geocode clusters, locations;
        summary.geocoding = run_geocoding(budget=settings.geocoder_run_budget)   # resolve geoms
    newest = max(filter(None, [parse_file_ts(summary.watermark_after or ""),   # is the exporter keeping up?
                               *(f.ts for f in listing.files)]), default=None)
    freshness = check_freshness(newest, datetime.now(UTC), settings.stale_after_minutes)
    name_flow_run(summary)                                                       # UI: run name
    publish_run_artifacts(summary, freshness.message, newest)                    # UI: watermark, summary, quality
    logger.info(summary.render())
    if summary.status == "failed":
        raise IngestFailed(
            f"ingest-{dataset.name} stopped at {summary.error}. Earlier files stayed committed;"
            f" fix the exporter or run: fleettickets quarantine {dataset.name} <key>",
            summary.as_dict(),
        )
    if freshness.stale:
        raise SourceStale(f"ingest-{dataset.name}: {freshness.message}", summary.as_dict())
    return summary.as_dict()


def apply_in_order(dataset: Dataset, plan: list[PlannedFile], summary: RunSummary, dry_run: bool) -> None:
    """Each file in its own transaction; the first file that cannot be loaded stops the stream."""
    progress = Progress(dataset.name, len(plan))
    with tempfile.TemporaryDirectory(prefix=f"fleettickets-{dataset.name}-") as workdir:
        for done, planned in enumerate(plan, start=1):
            try:
                if planned.action == "republished":
                    raise republished_error(dataset, planned)
                if planned.action != "archive":
                    raw = download(planned, Path(workdir))
                    staged, stats = transform(planned, raw)
                    summary.files.append(apply(dataset, planned, staged, stats, dry_run))
                else:  # committed before a crash, never archived: archive only
                    summary.archived_only.append(planned.change.key)
                if planned.change.in_changes and not dry_run:
                    archive(dataset, planned)
            except ChangeFileError as exc:
                summary.finish("failed", str(exc))
                return
            progress.update(done)


@flow(name="ingest-inc", on_failure=[notify_failure], on_crashed=[notify_failure])
def ingest_inc(reseed: bool = False, from_key: str | None = None, dry_run: bool = False,
               geocode: bool = True, wait: bool = False) -> dict:
    """Apply the INC change stream (and record INC history), then place its tickets on the map."""
    return ingest("inc", reseed, from_key, dry_run, wait, geocode)


@flow(name="ingest-crq", on_failure=[notify_failure], on_crashed=[notify_failure])
def ingest_crq(reseed: bool = False, from_key: str | None = None, dry_run: bool = False,
               geocode: bool = True, wait: bool = False) -> dict:
    """Apply the CRQ change stream, then place its tickets on the map."""
    return ingest("crq", reseed, from_key, dry_run, wait, geocode)


INGEST_FLOWS = {"inc": ingest_inc, "crq": ingest_crq}
