"""What an ingest run decides and reports, independent of Prefect.

The flow (flows/ingest.py) strings these together with the storage, transform and
apply steps; everything here is plain Python that pytest calls directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import psycopg

from fleettickets.apply import FileResult
from fleettickets.datasets import EAT, Dataset, parse_file_ts
from fleettickets.db import load_sql
from fleettickets.errors import ChangeFileError
from fleettickets.geocode import GeocodingReport
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


@dataclass
class RunSummary:
    dataset: str
    mode: str  # "normal" | "reseed" | "dry-run"
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: str = "running"  # "completed" | "failed" | "locked"
    watermark_before: str | None = None
    watermark_after: str | None = None
    files: list[FileResult] = field(default_factory=list)
    archived_only: list[str] = field(default_factory=list)
    skipped_keys: list[str] = field(default_factory=list)
    held_keys: list[str] = field(default_factory=list)  # dated too far ahead of now
    error: str | None = None
    seconds: float = 0.0
    geocoding: GeocodingReport | None = None  # when the run geocoded

    def total(self, name: str) -> int:
        if name in {"rows_read", "dropped_sentinel", "dropped_alarm", "dropped_invalid", "rows_staged", "nul_cells"}:
            return sum(getattr(f.transform, name) for f in self.files)
        return sum(getattr(f, name) for f in self.files)

    @property
    def late_files(self) -> list[str]:
        return [f.source_key for f in self.files if f.late]

    def finish(self, status: str, error: str | None = None) -> RunSummary:
        self.status = status
        self.error = error
        self.seconds = round((datetime.now(UTC) - self.started_at).total_seconds(), 2)
        return self

    def as_dict(self) -> dict:
        totals = [
            "rows_read", "dropped_alarm", "dropped_sentinel", "dropped_invalid", "duplicates",
            "inserted", "updated", "unchanged", "stale", "history_rows", "nul_cells",
        ]
        return {
            "dataset": self.dataset,
            "mode": self.mode,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "seconds": self.seconds,
            "watermark_before": self.watermark_before,
            "watermark_after": self.watermark_after,
            "files_applied": len(self.files),
            "files_archived_only": len(self.archived_only),
            "files_late": len(self.late_files),
            "keys_skipped": len(self.skipped_keys),
            "held_keys": self.held_keys,
            **{name: self.total(name) for name in totals},
            "error": self.error,
            "geocoding": self.geocoding.as_dict() if self.geocoding else None,
            "files": [f.as_dict() for f in self.files],
        }

    def render(self) -> str:
        return render_summary(self.as_dict())


def render_summary(s: dict) -> str:
    """The one-screen summary (from RunSummary.as_dict()) the CLI prints and the UI shows."""
    verb = "would apply" if s["mode"] == "dry-run" else "applied"
    lines = [
        f"ingest {s['dataset']} ({s['mode']}): {s['status']} in {s['seconds']:.1f}s",
        f"  files {verb}: {s['files_applied']}  archived only: {s['files_archived_only']}"
        f"  late: {s['files_late']}  non-change keys skipped: {s['keys_skipped']}",
        f"  rows read: {s['rows_read']}  alarms dropped: {s['dropped_alarm']}"
        f"  sentinels dropped: {s['dropped_sentinel']}  without id: {s['dropped_invalid']}"
        f"  duplicates: {s['duplicates']}",
        f"  inserted: {s['inserted']}  updated: {s['updated']}  unchanged: {s['unchanged']}"
        f"  stale (older than table): {s['stale']}  history rows: {s['history_rows']}",
        f"  watermark: {s['watermark_before'] or '-'} -> {s['watermark_after'] or '-'}",
    ]
    for key in s.get("held_keys", []):
        lines.append(f"  held back (dated ahead of now, not applied): {key}")
    for f in s["files"][:12]:
        dropped = f["transform"]["dropped_alarm"] + f["transform"]["dropped_sentinel"]
        lines.append(
            f"    {f['source_key']}: +{f['inserted']} ~{f['updated']} ={f['unchanged']}"
            f" stale {f['stale']} dropped {dropped}" + (" (late)" if f["late"] else "")
        )
    if len(s["files"]) > 12:
        lines.append(f"    ... and {len(s['files']) - 12} more files")
    if s.get("geocoding"):
        lines.append(GeocodingReport.from_dict(s["geocoding"]).render())
    if s["error"]:
        lines.append(f"  error: {s['error']}")
    return "\n".join(lines)


def read_watermark(conn: psycopg.Connection, dataset: Dataset) -> str | None:
    row = conn.execute(
        "SELECT metadata->>'source_max_key' FROM tickets.import_meta WHERE dataset = %s",
        (dataset.name,),
    ).fetchone()
    return row[0] if row else None


def read_ledger(conn: psycopg.Connection, dataset: Dataset) -> dict[str, LedgerEntry]:
    """Applied files of a dataset: canonical key -> what was applied."""
    rows = conn.execute(load_sql("read_ledger.sql"), {"dataset": dataset.name}).fetchall()
    return {key: LedgerEntry(etag, sha256) for key, etag, sha256 in rows}


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


def rebuild_required(conn: psycopg.Connection, dataset: Dataset) -> bool:
    """Whether an applied file left the stream and the dataset owes a full replay."""
    row = conn.execute(load_sql("rebuild_required.sql"), {"dataset": dataset.name}).fetchone()
    return bool(row and row[0])


def rebuild_done(conn: psycopg.Connection, dataset: Dataset) -> None:
    conn.execute(load_sql("rebuild_done.sql"), {"dataset": dataset.name})


def record_run(conn: psycopg.Connection, summary: RunSummary) -> None:
    """Remember the run on the dataset's import_meta row (status and the last run)."""
    compact = {k: v for k, v in summary.as_dict().items() if k != "files"}
    conn.execute(
        """UPDATE tickets.import_meta
           SET last_run_at = now(),
               metadata = metadata || jsonb_build_object('last_run', %s::jsonb),
               updated_at = now()
           WHERE dataset = %s""",
        (json.dumps(compact), summary.dataset),
    )


def eat_label(key: str | None) -> str:
    """'2026-06-15 17:00:00 EAT' for a change key, for people."""
    ts = parse_file_ts(key) if key else None
    return ts.astimezone(EAT).strftime("%Y-%m-%d %H:%M:%S EAT") if ts else "-"
