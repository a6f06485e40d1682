"""Flows `ingest-inc` and `ingest-crq`: apply a dataset's change stream, exactly once, in order.

Each step is one line; the work is in tasks/ (thin) and fleettickets/ (the logic).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from prefect import flow, get_run_logger

from fleettickets.apply import WriterLockLost
from fleettickets.config import Settings
from fleettickets.datasets import Dataset, get_dataset, parse_file_ts
from fleettickets.db import WriterLock, advisory_lock, connect, lock_key
from fleettickets.errors import ChangeFileError
from fleettickets.freshness import check_freshness
from fleettickets.plan import Action, PlannedFile, hold_after, plan_files, republished_error, same_bytes_as_applied
from fleettickets.stream_state import read_ledger, read_watermark, rebuild_done, rebuild_required, record_run
from fleettickets.summary import Mode, RunSummary, Status
from tasks.blocks import run_settings
from tasks.geocode import run_geocoding
from tasks.ingest import archive, archived_sha256, list_changes, load, object_sha256
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
    summary = RunSummary(dataset.name, Mode.DRY_RUN if dry_run else Mode.RESEED if reseed else Mode.NORMAL)

    with connect(settings.database_url, autocommit=True) as conn, \
            advisory_lock(conn, dataset.lock_name, wait=wait) as locked:       # one writer per dataset
        if not locked:
            logger.warning("another ingest-%s run holds the writer lock; exiting", dataset.name)
            return summary.finish(Status.LOCKED).as_dict()
        lock = WriterLock(lock_key(dataset.lock_name), conn.info.backend_pid)
        if rebuild_required(conn, dataset) and not dry_run:                      # an applied file left the
            reseed, from_key, summary.mode = True, None, Mode.RESEED                #  stream: replay it all
            logger.warning("an applied file was quarantined: replaying the whole %s stream", dataset.name)
        summary.watermark_before = read_watermark(conn, dataset)
        listing = list_changes(dataset, reseed, from_key)                        # list changes
        summary.skipped_keys = listing.skipped
        plan = plan_files(dataset, listing, read_ledger(conn, dataset),          # apply, replay, archive,
                          summary.watermark_before, reseed=reseed,               #  verify or hold back
                          hold_after=hold_after(datetime.now(UTC), settings.future_tolerance_minutes))
        apply_in_order(settings, dataset, plan, summary, lock, dry_run)          # per file: download ->
        summary.watermark_after = read_watermark(conn, dataset)                  #  transform -> apply -> archive
        if summary.status is Status.RUNNING:
            summary.finish(Status.COMPLETED)
            if reseed and not from_key and not dry_run:
                rebuild_done(conn, dataset)                                      # a full replay rebuilt it
        if not dry_run:
            record_run(conn, summary)                                            # last run on import_meta
    if geocode and not dry_run and summary.status is not Status.LOCKED:                   # geocode clusters, locations;
        summary.geocoding = run_geocoding(budget=settings.geocoder_run_budget)  # resolve geoms
    newest = max(filter(None, [parse_file_ts(summary.watermark_after or ""),   # is the exporter keeping up?
                               *(f.ts for f in listing.files)]), default=None)
    freshness = check_freshness(newest, datetime.now(UTC), settings.stale_after_minutes)
    name_flow_run(summary)                                                       # UI: run name
    publish_run_artifacts(summary, freshness.message, newest)                    # UI: watermark, summary, quality, SLA
    logger.info(summary.render())
    if summary.status is Status.FAILED:
        raise IngestFailed(
            f"ingest-{dataset.name} stopped at {summary.error}. Earlier files stayed committed;"
            f" fix the exporter or run: fleettickets quarantine {dataset.name} <key>",
            summary.as_dict(),
        )
    if freshness.stale:
        raise SourceStale(f"ingest-{dataset.name}: {freshness.message}", summary.as_dict())
    return summary.as_dict()


def apply_in_order(settings: Settings, dataset: Dataset, plan: list[PlannedFile], summary: RunSummary,
                   lock: WriterLock, dry_run: bool) -> None:
    """Each file in its own transaction; the first file that cannot be loaded stops the stream."""
    logger = get_run_logger()
    progress = Progress(dataset.name, len(plan))
    for done, planned in enumerate(plan, start=1):
        try:
            apply_one(dataset, planned, summary, lock, dry_run)
        except (ChangeFileError, WriterLockLost) as exc:
            summary.finish(Status.FAILED, str(exc))
            return
        if planned.action is Action.HELD:
            logger.warning("%s is dated more than %d min ahead of now: held back, not applied",
                           planned.change.key, settings.future_tolerance_minutes)
        progress.update(done)


def apply_one(dataset: Dataset, planned: PlannedFile, summary: RunSummary, lock: WriterLock, dry_run: bool) -> None:
    """One planned file through its steps: load (download -> transform -> upsert, one pass), archive."""
    if planned.action is Action.HELD:
        summary.held_keys.append(planned.change.key)
        return
    if planned.action is Action.ARCHIVE:  # committed before a crash, never archived
        summary.archived_only.append(planned.change.key)
        sha256 = planned.ledger.sha256 if planned.ledger else None
    elif planned.action is Action.VERIFY:  # the same bytes uploaded again (another ETag)?
        sha256 = object_sha256(planned)
        check_identity(dataset, planned, sha256)
        summary.archived_only.append(planned.change.key)
    else:
        result = load(dataset, planned, partial(check_identity, dataset, planned), lock, dry_run)
        summary.files.append(result)
        sha256 = result.sha256
    if planned.change.in_changes and not dry_run:
        archive(dataset, planned, sha256)


def check_identity(dataset: Dataset, planned: PlannedFile, sha256: str) -> None:
    """A key the ledger knows must hold the bytes it accepted (before anything commits)."""
    if planned.action in (Action.VERIFY, Action.REPLAY) and not same_bytes_as_applied(
            planned, sha256, lambda: archived_sha256(dataset, planned)):
        raise republished_error(dataset, planned, sha256)


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
