"""The run summary: what an ingest run did, and the one screen the CLI prints and the UI shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from fleettickets.apply import FileResult
from fleettickets.geocode import GeocodingReport


class Mode(StrEnum):
    NORMAL = "normal"
    RESEED = "reseed"
    DRY_RUN = "dry-run"


class Status(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    LOCKED = "locked"  # another run holds the writer lock


@dataclass
class RunSummary:
    dataset: str
    mode: Mode
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: Status = Status.RUNNING
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

    def finish(self, status: Status, error: str | None = None) -> RunSummary:
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


