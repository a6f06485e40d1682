"""An independent replay of change files, written from the contract, not from the loader.

It reads the CSVs with the standard library and applies the contract's rules (drop the
sentinel, alarm rows and dropped columns; empty means null; region lowercase, status
uppercase; the last occurrence of a ticket in a file wins; files in name order).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

SENTINEL = "EXPORT STOPPED DUE TO EXCESSIVE SIZE"
DROPPED = {
    "source_type", "department", "service_type", "is_alarm", "week_start", "week_end",
    "source_s3_bucket", "source_s3_key", "source_snapshot_id",
}


def clean_row(row: dict[str, str]) -> dict[str, str | None] | None:
    ticket_id = row["ticket_id"].strip()
    if not ticket_id or ticket_id.startswith(SENTINEL):
        return None
    if row["is_alarm"].strip().lower() == "true":
        return None
    out: dict[str, str | None] = {}
    for column, value in row.items():
        if column in DROPPED:
            continue
        if column == "region":
            value = value.strip().lower()
        elif column == "raw_status":
            value = value.strip().upper()
        elif column in {"bucket"}:
            value = value.strip()
        elif column == "is_actionable":
            value = value.strip().lower()
        elif column == "ticket_id":
            value = ticket_id
        out[column] = value if value != "" else None
    return out


def read_file(path: Path) -> dict[str, dict]:
    """ticket_id -> cleaned row for one file (last occurrence wins)."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        return read_rows(f)


def read_rows(f: TextIO) -> dict[str, dict]:
    """ticket_id -> cleaned row of an open CSV text stream (last occurrence wins)."""
    rows: dict[str, dict] = {}
    for row in csv.DictReader(f):
        cleaned = clean_row(row)
        if cleaned is not None:
            rows[cleaned["ticket_id"]] = cleaned
    return rows


def replay(paths: list[Path]) -> dict[str, dict]:
    """The state after applying the files in file-name order."""
    state: dict[str, dict] = {}
    for path in sorted(paths, key=lambda p: p.name):
        state.update(read_file(path))
    return state
