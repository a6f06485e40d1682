"""Data quality of applied files against the contract's expected proportions."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

from fleettickets.apply import FileResult

# Proportions hold for baselines; a delta is too small and too skewed to judge.
BASELINE_MIN_ROWS = 5_000
CONTENT_LAG_LIMIT = timedelta(days=4)  # the source is a daily spreadsheet: ~2 days is normal


@dataclass(frozen=True)
class Expectation:
    name: str
    expected: float
    tolerance: float

    def check(self, observed: float) -> bool:
        return abs(observed - self.expected) <= self.tolerance


EXPECTATIONS = {
    "alarm_share": Expectation("alarm rows of all data rows", 1 / 3, 0.10),
    "null_assigned_team": Expectation("assigned_team missing", 0.34, 0.10),
    "null_created_at_service": Expectation("created_at_service missing", 0.30, 0.10),
}


@dataclass(frozen=True)
class QualityRow:
    """One row of the data-quality table (the `<ds>-data-quality` artifact)."""

    file: str  # the file's name, without its folder
    check: str
    observed: str
    expected: str
    flag: str  # ok, DRIFT or n/a (delta)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def file_quality(file: FileResult) -> list[QualityRow]:
    """The data-quality rows for one applied file."""
    transform, quality = file.transform, file.quality
    name = file.source_key.rsplit("/", 1)[-1]
    data_rows = transform.rows_read - transform.dropped_sentinel
    kept = quality.kept_rows
    observed = {
        "alarm_share": transform.dropped_alarm / data_rows if data_rows else 0.0,
        "null_assigned_team": quality.null_assigned_team / kept if kept else 0.0,
        "null_created_at_service": quality.null_created_at_service / kept if kept else 0.0,
    }
    judged = data_rows >= BASELINE_MIN_ROWS
    rows = [
        QualityRow(name, exp.name, f"{observed[key]:.1%}", f"{exp.expected:.0%} ± {exp.tolerance:.0%}",
                   ("ok" if exp.check(observed[key]) else "DRIFT") if judged else "n/a (delta)")
        for key, exp in EXPECTATIONS.items()
    ]
    rows.append(_content_lag_row(file, name))
    nul_cells = transform.nul_cells
    rows.append(QualityRow(name, "cells with a NUL character (removed, row kept)", str(nul_cells), "0",
                           "DRIFT" if nul_cells else "ok"))
    return rows


def _content_lag_row(file: FileResult, name: str) -> QualityRow:
    newest = file.quality.newest_updated_at
    expected = f"< {CONTENT_LAG_LIMIT.days} d"
    if newest is None:
        return QualityRow(name, "content lag", "no updated_at", expected, "DRIFT")
    lag = file.file_ts - newest
    flag = "ok" if timedelta(hours=-1) <= lag <= CONTENT_LAG_LIMIT else "DRIFT"
    return QualityRow(name, "content lag", f"{lag / timedelta(hours=1):.1f} h", expected, flag)


def quality_rows(files: list[FileResult]) -> list[QualityRow]:
    return [row for f in files for row in file_quality(f)]
