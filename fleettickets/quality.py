"""Data quality of applied files against the contract's expected proportions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

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


def file_quality(file: FileResult) -> list[dict[str, Any]]:
    """Rows of the data-quality table (an artifact's table) for one applied file."""
    transform, quality = file.transform, file.quality
    data_rows = transform.rows_read - transform.dropped_sentinel
    kept = quality.get("kept_rows", 0)
    observed = {
        "alarm_share": transform.dropped_alarm / data_rows if data_rows else 0.0,
        "null_assigned_team": quality.get("null_assigned_team", 0) / kept if kept else 0.0,
        "null_created_at_service": quality.get("null_created_at_service", 0) / kept if kept else 0.0,
    }
    judged = data_rows >= BASELINE_MIN_ROWS
    rows = []
    for key, exp in EXPECTATIONS.items():
        ok = exp.check(observed[key])
        rows.append({
            "file": file.source_key.rsplit("/", 1)[-1],
            "check": exp.name,
            "observed": f"{observed[key]:.1%}",
            "expected": f"{exp.expected:.0%} ± {exp.tolerance:.0%}",
            "flag": ("DRIFT" if not ok else "ok") if judged else "n/a (delta)",
        })
    rows.append(_content_lag_row(file))
    nul_cells = transform.nul_cells
    rows.append({"file": rows[0]["file"], "check": "cells with a NUL character (removed, row kept)",
                 "observed": str(nul_cells), "expected": "0", "flag": "DRIFT" if nul_cells else "ok"})
    return rows


def _content_lag_row(file: FileResult) -> dict[str, Any]:
    newest = file.quality.get("newest_updated_at")
    name = file.source_key.rsplit("/", 1)[-1]
    if not newest:
        return {"file": name, "check": "content lag", "observed": "no updated_at",
                "expected": f"< {CONTENT_LAG_LIMIT.days} d", "flag": "DRIFT"}
    lag = file.file_ts - newest
    flag = "ok" if timedelta(hours=-1) <= lag <= CONTENT_LAG_LIMIT else "DRIFT"
    return {"file": name, "check": "content lag", "observed": f"{lag / timedelta(hours=1):.1f} h",
            "expected": f"< {CONTENT_LAG_LIMIT.days} d", "flag": flag}


def quality_rows(files: list[FileResult]) -> list[dict[str, Any]]:
    return [row for f in files for row in file_quality(f)]
