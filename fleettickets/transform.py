"""CSV export -> cleaned rows ready for COPY, per the export contract.

Reads in chunks (a 10x baseline never sits in memory) and writes one JSON object per
line in COPY text format. Load semantics: the output holds every kept row in file
order; duplicate ticket ids are resolved later in SQL (last occurrence wins).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import asdict, dataclass
from importlib import resources
from itertools import islice
from pathlib import Path

import pandas as pd

from fleettickets.errors import SchemaDriftError, UnreadableFileError

log = logging.getLogger(__name__)

SENTINEL_PREFIX = "EXPORT STOPPED DUE TO EXCESSIVE SIZE"
CONTRACT_COLUMNS: tuple[str, ...] = tuple(
    resources.files("fleettickets").joinpath("columns.txt").read_text(encoding="utf-8").split()
)
# Constants of the export and bookkeeping the contract drops; is_alarm only selects rows.
DROPPED_COLUMNS = frozenset(
    {
        "source_type", "department", "service_type", "is_alarm",
        "week_start", "week_end", "source_s3_bucket", "source_s3_key", "source_snapshot_id",
    }
)
KEPT_COLUMNS: tuple[str, ...] = tuple(c for c in CONTRACT_COLUMNS if c not in DROPPED_COLUMNS)
CHUNK_ROWS = 5_000  # ~9 KB per row in flight: 5,000 keeps a 10x baseline well inside 400 MB
# The contract sets no cell size (a long summary is still a ticket); Python's csv module
# refuses fields over 128 KB unless told otherwise.
csv.field_size_limit(2**31 - 1)
# The one rule for NUL characters (U+0000), which PostgreSQL text cannot hold: they are
# removed from the cell, the row loads, and the file's data-quality counts say how many
# cells had one ("one bad cell never blocks a file").
NUL = "\x00"


@dataclass
class TransformStats:
    rows_read: int = 0  # data lines, sentinel included
    dropped_sentinel: int = 0
    dropped_alarm: int = 0
    dropped_invalid: int = 0  # rows without a ticket_id
    rows_staged: int = 0
    nul_cells: int = 0  # kept cells that held a NUL character (removed)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def check_header(key: str, columns: list[str]) -> None:
    """Map by header name: any missing or unknown column is schema drift."""
    seen = [c.strip() for c in columns]
    missing = [c for c in CONTRACT_COLUMNS if c not in seen]
    unknown = [c for c in seen if c not in CONTRACT_COLUMNS]
    duplicated = sorted({c for c in seen if seen.count(c) > 1})
    if missing or unknown or duplicated:
        raise SchemaDriftError(key, missing, unknown + [f"{c} (repeated)" for c in duplicated])


def _read_header(key: str, path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader(f), None)
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(key, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not header:
        raise UnreadableFileError(key, "empty file (no header line)")
    return header


def _check_widths(rows: list[list[str]], first_row: int, key: str) -> None:
    """Every record has exactly the header's width (pandas would pad a short row silently)."""
    width = len(CONTRACT_COLUMNS)
    if min(map(len, rows)) == width == max(map(len, rows)):
        return
    position = next(i for i, row in enumerate(rows) if len(row) != width)
    raise UnreadableFileError(
        key, f"malformed CSV: data row {first_row + position + 1} has {len(rows[position])} of "
        f"{width} fields (truncated file or broken quoting)"
    )


def _clean(chunk: pd.DataFrame, first_row: int, key: str, stats: TransformStats) -> pd.DataFrame:
    ticket_id = chunk["ticket_id"].str.strip()
    sentinel = ticket_id.str.startswith(SENTINEL_PREFIX)
    invalid = ticket_id.eq("") & ~sentinel
    alarm = chunk["is_alarm"].str.strip().str.lower().eq("true") & ~sentinel & ~invalid
    stats.rows_read += len(chunk)
    stats.dropped_sentinel += int(sentinel.sum())
    stats.dropped_alarm += int(alarm.sum())
    stats.dropped_invalid += int(invalid.sum())
    for position in chunk.index[invalid][:5]:
        log.warning("%s: data row %d has no ticket_id; dropped", key, first_row + position + 1)

    keep = ~(sentinel | invalid | alarm)
    rows = chunk.loc[keep, list(KEPT_COLUMNS)].copy()
    rows["ticket_id"] = ticket_id[keep]
    rows["region"] = rows["region"].str.strip().str.lower()
    rows["raw_status"] = rows["raw_status"].str.strip().str.upper()
    rows["bucket"] = rows["bucket"].str.strip()
    rows["is_actionable"] = rows["is_actionable"].str.strip().str.lower()
    # The contract's only null marker is the empty string.
    return rows.mask(rows.eq(""))


def _strip_nul(rows: pd.DataFrame, stats: TransformStats) -> pd.DataFrame:
    """Remove NUL characters from every cell, counting the cells that had one."""
    has_nul = rows.apply(lambda column: column.str.contains(NUL, regex=False, na=False))
    stats.nul_cells += int(has_nul.to_numpy().sum())
    return rows.apply(lambda column: column.str.replace(NUL, "", regex=False))


def _contains_nul(path: Path) -> bool:
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            if b"\x00" in block:
                return True
    return False


def transform_file(key: str, source: Path, dest: Path, chunk_rows: int = CHUNK_ROWS) -> TransformStats:
    """Clean `source` into `dest` (one JSON row per line, COPY text format)."""
    header = _read_header(key, source)
    check_header(key, header)
    stats = TransformStats()
    has_nul = _contains_nul(source)
    columns = [c.strip() for c in header]
    try:
        # csv (strict, RFC 4180: quotes, commas and line breaks inside values) feeds pandas
        # one chunk at a time, so memory stays flat whatever the file size.
        with source.open(encoding="utf-8-sig", newline="") as f, \
                dest.open("w", encoding="utf-8", newline="\n") as out:
            reader = csv.reader(f, strict=True)
            next(reader)
            first_row = 0
            while records := list(islice(reader, chunk_rows)):
                _check_widths(records, first_row, key)
                chunk = pd.DataFrame(records, columns=columns, dtype=str)
                rows = _clean(chunk, first_row, key, stats)
                if has_nul:  # rare: the scan below keeps this pass off the common path
                    rows = _strip_nul(rows, stats)
                first_row += len(chunk)
                if rows.empty:
                    continue
                lines = rows.to_json(orient="records", lines=True, force_ascii=False)
                # COPY text format: backslash is the escape character. JSON escapes
                # newlines, tabs and control characters, so one object stays one line.
                out.write(lines.replace("\\", "\\\\"))
                if not lines.endswith("\n"):
                    out.write("\n")
                stats.rows_staged += len(rows)
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(key, f"not UTF-8 ({exc.reason}, near data row {first_row + 1})") from None
    except csv.Error as exc:
        raise UnreadableFileError(key, f"malformed CSV near line {reader.line_num}: {exc}") from None
    return stats
