"""What an ingest run does with each listed file: apply, replay, archive only, verify its bytes,
or hold it back. Plain decisions over the listing and the ledger; no I/O."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from fleettickets.datasets import Dataset
from fleettickets.errors import ChangeFileError
from fleettickets.storage import ChangeFile, Listing


class Action(StrEnum):
    APPLY = "apply"  # not in the ledger: apply it
    REPLAY = "replay"  # reseed of a committed file (its bytes must be the ones applied)
    ARCHIVE = "archive"  # committed, still under changes/ with the ETag applied: archive only
    VERIFY = "verify"  # committed, under changes/ with another ETag: same bytes? archive; else stop
    HELD = "held"  # dated beyond the tolerance ahead of now: not applied, reported


@dataclass(frozen=True)
class LedgerEntry:
    etag: str | None
    sha256: str | None  # null for files applied before content hashes were recorded


@dataclass(frozen=True)
class PlannedFile:
    change: ChangeFile
    action: Action
    late: bool = False
    ledger: LedgerEntry | None = None  # what the ledger recorded, for committed files


def plan_files(
    dataset: Dataset,
    listing: Listing,
    ledger: dict[str, LedgerEntry],
    watermark: str | None,
    *,
    reseed: bool,
    hold_after: datetime,
) -> list[PlannedFile]:
    """Decide per file: apply (new), replay (reseed), archive only, verify its bytes, or hold."""
    plan = []
    for change in listing.files:
        key = dataset.changes_key(change.name)
        entry = ledger.get(key)
        if entry is None and change.ts > hold_after:
            plan.append(PlannedFile(change, Action.HELD))
        elif reseed:
            plan.append(PlannedFile(change, Action.REPLAY if entry else Action.APPLY, ledger=entry))
        elif entry is None:
            plan.append(PlannedFile(change, Action.APPLY, late=bool(watermark and key < watermark)))
        elif entry.etag and entry.etag == change.etag:
            plan.append(PlannedFile(change, Action.ARCHIVE, ledger=entry))
        else:
            plan.append(PlannedFile(change, Action.VERIFY, ledger=entry))
    return plan


def same_bytes_as_applied(planned: PlannedFile, sha256: str, archived_sha256: Callable[[], str | None]) -> bool:
    """Whether bytes listed under a committed key are the ones the ledger accepted.

    The ledger's content hash decides; for files applied before hashes were recorded, the
    ETag applied, else the archived original (processed/ is never overwritten)."""
    entry = planned.ledger
    if entry is None:
        return True
    if entry.sha256:
        return entry.sha256 == sha256
    if entry.etag and entry.etag == planned.change.etag:
        return True
    if not planned.change.in_changes:
        return True  # this is the archived original itself
    return archived_sha256() == sha256


def hold_after(now: datetime, tolerance_minutes: int) -> datetime:
    """Files dated after this instant are held back: a clock gone wrong on the exporter's side
    would otherwise win against every real update of its tickets."""
    return now + timedelta(minutes=tolerance_minutes)


def republished_error(dataset: Dataset, planned: PlannedFile, sha256: str) -> ChangeFileError:
    """A key applied before now holds different bytes: never apply it twice, never guess."""
    applied = planned.ledger.sha256 if planned.ledger and planned.ledger.sha256 else "unknown"
    return ChangeFileError(
        planned.change.key,
        f"already applied with other bytes (SHA-256 {applied[:12]}, the bucket now holds {sha256[:12]} under"
        f" the same key); quarantine it (fleettickets quarantine {dataset.name} {planned.change.key})"
        f" to take it out of the stream",
    )


# Files one `load` task run applies on one connection, each in its own transaction (see
# flows/ingest.py, apply_in_order): at most this many, or this many bytes; a file larger than
# BIG_FILE_BYTES is a batch of its own (batching saves nothing on it, and the UI shows it alone).
BATCH_FILES = 50
BATCH_BYTES = 32 << 20
BIG_FILE_BYTES = 4 << 20
LOADED = (Action.APPLY, Action.REPLAY)  # the actions a `load` applies; the others are one file each


def next_batch(plan: list[PlannedFile], start: int, *, max_files: int = BATCH_FILES,
               max_bytes: int = BATCH_BYTES, big_file: int = BIG_FILE_BYTES) -> list[PlannedFile]:
    """The files from plan[start] that go through their steps together: consecutive small files
    to apply or replay (capped by files and bytes), else plan[start] alone (a held file, one to
    archive or verify, a big file)."""
    def batchable(planned: PlannedFile) -> bool:
        return planned.action in LOADED and planned.change.size <= big_file

    first = plan[start]
    batch = [first]
    if not batchable(first):
        return batch
    size = first.change.size
    for planned in plan[start + 1:]:
        if not batchable(planned) or len(batch) >= max_files or size + planned.change.size > max_bytes:
            break
        batch.append(planned)
        size += planned.change.size
    return batch
