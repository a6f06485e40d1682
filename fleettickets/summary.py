"""The run summary: what an ingest run did, and the one screen the CLI prints and the UI shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum

from fleettickets.apply import FileResult, TransformStats
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


@dataclass(frozen=True)
class Totals:
    """A run's counts over its applied files (field order: the JSON's key order).

    Each field is the sum of the per-file count of the same name, of `TransformStats` or of
    `FileResult` (`_PER_FILE` finds it when the module loads, so a renamed count fails there)."""

    rows_read: int = 0
    dropped_alarm: int = 0
    dropped_sentinel: int = 0
    dropped_invalid: int = 0
    duplicates: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    history_rows: int = 0
    nul_cells: int = 0

    @classmethod
    def of(cls, files: list[FileResult]) -> Totals:
        return cls(**{name: sum(count(f) for f in files) for name, count in _PER_FILE.items()})


def _per_file_count(name: str) -> Callable[[FileResult], int]:
    if name in {f.name for f in fields(TransformStats)}:
        return lambda file: getattr(file.transform, name)
    if name in {f.name for f in fields(FileResult) if f.type == "int"}:
        return lambda file: getattr(file, name)
    raise TypeError(f"Totals.{name} is a count of neither TransformStats nor FileResult")


_PER_FILE: dict[str, Callable[[FileResult], int]] = {f.name: _per_file_count(f.name) for f in fields(Totals)}


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

    @classmethod
    def start(cls, dataset: str, *, reseed: bool, dry_run: bool) -> RunSummary:
        return cls(dataset, Mode.DRY_RUN if dry_run else Mode.RESEED if reseed else Mode.NORMAL)

    @property
    def dry_run(self) -> bool:
        return self.mode is Mode.DRY_RUN

    @property
    def totals(self) -> Totals:
        return Totals.of(self.files)

    @property
    def files_applied(self) -> int:
        return len(self.files)

    @property
    def files_archived_only(self) -> int:
        return len(self.archived_only)

    @property
    def files_late(self) -> int:
        return len(self.late_files)

    @property
    def keys_skipped(self) -> int:
        return len(self.skipped_keys)

    @property
    def late_files(self) -> list[str]:
        return [f.source_key for f in self.files if f.late]

    def finish(self, status: Status, error: str | None = None) -> RunSummary:
        self.status = status
        self.error = error
        self.seconds = round((datetime.now(UTC) - self.started_at).total_seconds(), 2)
        return self

    def as_dict(self) -> dict:
        """The JSON shape (the last run on import_meta): not a hand-off between layers."""
        return {
            "dataset": self.dataset,
            "mode": self.mode,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "seconds": self.seconds,
            "watermark_before": self.watermark_before,
            "watermark_after": self.watermark_after,
            "files_applied": self.files_applied,
            "files_archived_only": self.files_archived_only,
            "files_late": self.files_late,
            "keys_skipped": self.keys_skipped,
            "held_keys": self.held_keys,
            **asdict(self.totals),
            "error": self.error,
            "geocoding": self.geocoding.as_dict() if self.geocoding else None,
            "files": [f.as_dict() for f in self.files],
        }

    def render(self) -> str:
        """The one-screen summary the CLI prints and the UI shows."""
        t = self.totals
        verb = "would apply" if self.dry_run else "applied"
        lines = [
            f"ingest {self.dataset} ({self.mode}): {self.status} in {self.seconds:.1f}s",
            f"  files {verb}: {self.files_applied}  archived only: {self.files_archived_only}"
            f"  late: {self.files_late}  non-change keys skipped: {self.keys_skipped}",
            f"  rows read: {t.rows_read}  alarms dropped: {t.dropped_alarm}"
            f"  sentinels dropped: {t.dropped_sentinel}  without id: {t.dropped_invalid}"
            f"  duplicates: {t.duplicates}",
            f"  inserted: {t.inserted}  updated: {t.updated}  unchanged: {t.unchanged}"
            f"  stale (older than table): {t.stale}  history rows: {t.history_rows}",
            f"  watermark: {self.watermark_before or '-'} -> {self.watermark_after or '-'}",
        ]
        lines += [f"  held back (dated ahead of now, not applied): {key}" for key in self.held_keys]
        lines += [_file_line(f) for f in self.files[:12]]
        if len(self.files) > 12:
            lines.append(f"    ... and {len(self.files) - 12} more files")
        if self.geocoding:
            lines.append(self.geocoding.render())
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)


def _file_line(f: FileResult) -> str:
    dropped = f.transform.dropped_alarm + f.transform.dropped_sentinel
    return (f"    {f.source_key}: +{f.inserted} ~{f.updated} ={f.unchanged}"
            f" stale {f.stale} dropped {dropped}" + (" (late)" if f.late else ""))
