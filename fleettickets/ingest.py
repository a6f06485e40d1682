"""What an ingest run decides and reports, independent of Prefect.

The flow (flows/ingest.py) strings these together with the storage, transform and
apply steps; everything here is plain Python that pytest calls directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from fleettickets.apply import FileResult
from fleettickets.datasets import EAT, Dataset, parse_file_ts
from fleettickets.errors import ChangeFileError
from fleettickets.geocode import render_report
from fleettickets.storage import ChangeFile, Listing


@dataclass(frozen=True)
class PlannedFile:
    change: ChangeFile
    # "apply" | "replay" | "archive" (committed before, still under changes/) |
    # "republished" (committed before, but the bucket now holds other bytes under its key)
    action: str
    late: bool = False
    ledger_etag: str | None = None  # the ETag the ledger recorded, for committed files


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
    error: str | None = None
    seconds: float = 0.0
    geocoding: dict | None = None  # run_geocoding's report, when the run geocoded

    def total(self, name: str) -> int:
        if name in {"rows_read", "dropped_sentinel", "dropped_alarm", "dropped_invalid", "rows_staged"}:
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
            "inserted", "updated", "unchanged", "stale", "history_rows",
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
            **{name: self.total(name) for name in totals},
            "error": self.error,
            "geocoding": self.geocoding,
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
    for f in s["files"][:12]:
        dropped = f["transform"]["dropped_alarm"] + f["transform"]["dropped_sentinel"]
        lines.append(
            f"    {f['source_key']}: +{f['inserted']} ~{f['updated']} ={f['unchanged']}"
            f" stale {f['stale']} dropped {dropped}" + (" (late)" if f["late"] else "")
        )
    if len(s["files"]) > 12:
        lines.append(f"    ... and {len(s['files']) - 12} more files")
    if s.get("geocoding"):
        lines.append(render_report(s["geocoding"]))
    if s["error"]:
        lines.append(f"  error: {s['error']}")
    return "\n".join(lines)


def read_watermark(conn: psycopg.Connection, dataset: Dataset) -> str | None:
    row = conn.execute(
        "SELECT metadata->>'source_max_key' FROM tickets.import_meta WHERE dataset = %s",
        (dataset.name,),
    ).fetchone()
    return row[0] if row else None


def read_ledger(conn: psycopg.Connection, dataset: Dataset) -> dict[str, str | None]:
    """Applied files of a dataset: canonical key -> ETag."""
    return dict(
        conn.execute(
            "SELECT source_key, etag FROM tickets.applied_files WHERE dataset = %s", (dataset.name,)
        ).fetchall()
    )


def plan_files(
    dataset: Dataset,
    listing: Listing,
    ledger: dict[str, str | None],
    watermark: str | None,
    *,
    reseed: bool,
) -> list[PlannedFile]:
    """Decide per file: apply (new), replay (reseed of a committed one) or archive only."""
    plan = []
    for change in listing.files:
        key = dataset.changes_key(change.name)
        committed = key in ledger
        if reseed:
            plan.append(PlannedFile(change, "replay" if committed else "apply"))
        elif committed:
            republished = bool(ledger[key] and change.etag and ledger[key] != change.etag)
            plan.append(PlannedFile(change, "republished" if republished else "archive", ledger_etag=ledger[key]))
        else:
            plan.append(PlannedFile(change, "apply", late=bool(watermark and key < watermark)))
    return plan


def republished_error(dataset: Dataset, planned: PlannedFile) -> ChangeFileError:
    """A key applied before now holds different bytes: never apply it twice, never guess."""
    return ChangeFileError(
        planned.change.key,
        f"already applied with ETag {planned.ledger_etag}, but the bucket now holds ETag {planned.change.etag} under"
        f" the same key; quarantine it (fleettickets quarantine {dataset.name} {planned.change.name})"
        f" or reseed to replay the stream",
    )


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
