"""Flows `ingest-inc` and `ingest-crq`: apply a dataset's change stream, exactly once, in order.

Each step is one line; the work is in tasks/ (thin) and fleettickets/ (the logic).
"""

from __future__ import annotations

from functools import partial

from prefect import get_run_logger

from fleettickets.apply import WriterLockLost
from fleettickets.config import Settings
from fleettickets.datasets import Dataset, get_dataset
from fleettickets.db import WriterLock
from fleettickets.errors import ChangeFileError
from fleettickets.freshness import Freshness
from fleettickets.plan import Action, PlannedFile, next_batch, republished_error, same_bytes_as_applied
from fleettickets.summary import RunSummary, Status
from flows.plain_flow import plain_flow
from tasks.alerts import notify_failure
from tasks.artifacts import publish_run_artifacts, read_sla
from tasks.blocks import run_settings
from tasks.geocode import run_geocoding
from tasks.ingest import ArchiveInFlight, archived_sha256, list_changes, load, object_sha256
from tasks.progress import Progress
from tasks.run_name import name_flow_run
from tasks.stream import check_stream_freshness, plan_stream, read_stream_state, record_run, writer_lock


class IngestFailed(Exception):
    """The run stopped at a file; the message names the file and the reason."""

    def __init__(self, message: str, summary: RunSummary) -> None:
        super().__init__(message)
        self.summary = summary


class SourceStale(IngestFailed):
    """Everything pending was applied, but the exporter has not delivered for too long."""


def ingest(dataset_name: str, reseed: bool, from_key: str | None, dry_run: bool, wait: bool,
           geocode: bool) -> RunSummary:
    settings = run_settings()                                                    # blocks, else the environment
    dataset = get_dataset(dataset_name)
    summary = RunSummary.start(dataset.name, reseed=reseed, dry_run=dry_run)
    with writer_lock(dataset, wait) as lock:                                     # one writer per dataset
        if lock is None:                                                         #  another run holds it: exit
            return summary.finish(Status.LOCKED)
        state = read_stream_state(dataset, lock, summary, reseed, from_key)      # watermark, ledger, replay owed?
        listing = list_changes(dataset, state.reseed, state.from_key)            # list changes
        plan = plan_stream(dataset, listing, state, summary)                     # apply, replay, archive, verify, hold
        apply_in_order(settings, dataset, plan, summary, lock, dry_run)          # per batch: load -> archive
        record_run(dataset, lock, summary, state)                                # watermark after, status, import_meta
    sla = read_sla.submit(dataset.name) if summary.files else None               # SLA report, while geocoding
    if geocode and not dry_run:                                                  # geocode clusters, locations;
        summary.geocoding = run_geocoding(budget=settings.geocoder_run_budget)  #  resolve geoms
    freshness = check_stream_freshness(summary, listing)                         # is the exporter keeping up?
    name_flow_run(summary)                                                       # UI: run name
    publish_run_artifacts(summary, freshness, sla and sla.result())              # UI: watermark, summary, quality, SLA
    get_run_logger().info(summary.render())                                      # the run's summary, once
    stop_if_failed(dataset, summary, freshness)                                  # a stopped stream, a stale source
    return summary


def stop_if_failed(dataset: Dataset, summary: RunSummary, freshness: Freshness) -> None:
    """Fail the run when the stream stopped at a file, or when the source has gone stale."""
    if summary.status is Status.FAILED:
        raise IngestFailed(
            f"ingest-{dataset.name} stopped at {summary.error}. Earlier files stayed committed;"
            f" fix the exporter or run: fleettickets quarantine {dataset.name} <key>",
            summary,
        )
    if freshness.stale:
        raise SourceStale(f"ingest-{dataset.name}: {freshness.message}", summary)


def apply_in_order(settings: Settings, dataset: Dataset, plan: list[PlannedFile], summary: RunSummary,
                   lock: WriterLock, dry_run: bool) -> None:
    """Each file in its own transaction; the first file that cannot be loaded stops the stream.

    Consecutive small files go through their steps together (fleettickets.plan.next_batch): one
    `load` task run, then one `archive` task run for the files that committed, then the progress
    artifact. A batch's archive runs while the next batch loads (tasks.ingest.ArchiveInFlight):
    the run waits for it before it goes on. A load that stopped early hands back the rest: the
    next batch starts at the first file not committed."""
    logger = get_run_logger()
    progress = Progress(dataset.name, len(plan))
    archiving = ArchiveInFlight()
    done = 0
    try:
        while done < len(plan):
            batch = next_batch(plan, done)
            try:
                done += apply_batch(dataset, batch, summary, lock, dry_run, archiving)
            except (ChangeFileError, WriterLockLost) as exc:
                summary.finish(Status.FAILED, str(exc))
                return
            if batch[0].action is Action.HELD:
                logger.warning("%s is dated more than %d min ahead of now: held back, not applied",
                               batch[0].change.key, settings.future_tolerance_minutes)
            progress.update(done)
    finally:
        archiving.wait()


def apply_batch(dataset: Dataset, batch: list[PlannedFile], summary: RunSummary, lock: WriterLock,
                dry_run: bool, archiving: ArchiveInFlight) -> int:
    """The files of a batch through their steps: load (download -> transform -> upsert, one pass
    per file, a transaction each), then archive the files that committed (started here, waited
    for by the next batch's archive or the end of the run). Returns how many of the
    batch's files are done (a prefix: a load that stopped early leaves the rest to the next batch).
    A held file, a file to archive only or to verify is a batch of its own."""
    planned = batch[0]
    if planned.action is Action.HELD:
        summary.held_keys.append(planned.change.key)
        return 1
    if planned.action is Action.ARCHIVE:  # committed before a crash, never archived
        summary.archived_only.append(planned.change.key)
        archived = [(planned, planned.ledger.sha256 if planned.ledger else None)]
    elif planned.action is Action.VERIFY:  # the same bytes uploaded again (another ETag)?
        sha256 = object_sha256(planned)
        check_identity(dataset, planned, sha256)
        summary.archived_only.append(planned.change.key)
        archived = [(planned, sha256)]
    else:
        results = load(dataset, batch, partial(check_identity, dataset), lock, dry_run)
        summary.files.extend(results)
        archived = [(p, result.sha256) for p, result in zip(batch, results, strict=False)]
    to_archive = [(p, sha256) for p, sha256 in archived if p.change.in_changes]
    if to_archive and not dry_run:
        archiving.start(dataset, to_archive)
    return len(archived)


def check_identity(dataset: Dataset, planned: PlannedFile, sha256: str) -> None:
    """A key the ledger knows must hold the bytes it accepted (before anything commits)."""
    if planned.action in (Action.VERIFY, Action.REPLAY) and not same_bytes_as_applied(
            planned, sha256, lambda: archived_sha256(dataset, planned)):
        raise republished_error(dataset, planned, sha256)


@plain_flow(name="ingest-inc", on_failure=[notify_failure], on_crashed=[notify_failure])
def ingest_inc(reseed: bool = False, from_key: str | None = None, dry_run: bool = False,
               geocode: bool = True, wait: bool = False) -> RunSummary:
    """Apply the INC change stream (and record INC history), then place its tickets on the map."""
    return ingest("inc", reseed, from_key, dry_run, wait, geocode)


@plain_flow(name="ingest-crq", on_failure=[notify_failure], on_crashed=[notify_failure])
def ingest_crq(reseed: bool = False, from_key: str | None = None, dry_run: bool = False,
               geocode: bool = True, wait: bool = False) -> RunSummary:
    """Apply the CRQ change stream, then place its tickets on the map."""
    return ingest("crq", reseed, from_key, dry_run, wait, geocode)


INGEST_FLOWS = {"inc": ingest_inc, "crq": ingest_crq}
