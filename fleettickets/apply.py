"""Apply one cleaned change file to its table in one transaction.

Load semantics (per file): COPY into a temp staging table; one upsert keyed on
ticket_id that never replaces a row with state from an older file and skips unchanged
rows; the dataset's post-apply hook; the ledger row; the watermark. All or nothing.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg

from fleettickets.datasets import Dataset
from fleettickets.db import load_sql, table_sql
from fleettickets.errors import FleetTicketsError
from fleettickets.storage import ChangeFile
from fleettickets.transform import TransformStats

log = logging.getLogger(__name__)

COPY_BLOCK = 1 << 20


class AlreadyApplied(FleetTicketsError):
    """The ledger already holds this file: another writer committed it first (a safety net
    behind the advisory lock). The transaction rolls back, so nothing is applied twice."""

    def __init__(self, key: str) -> None:
        super().__init__(f"{key}: already in the ledger (committed by another writer); rolled back")


@dataclass
class FileResult:
    source_key: str
    file_ts: datetime
    etag: str
    size_bytes: int
    late: bool
    replay: bool
    dry_run: bool
    transform: TransformStats = field(default_factory=TransformStats)
    duplicates: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    history_rows: int = 0
    quality: dict = field(default_factory=dict)  # counts from quality.sql

    def as_dict(self) -> dict:
        data = asdict(self)
        data["file_ts"] = self.file_ts.isoformat()
        if isinstance(self.quality.get("newest_updated_at"), datetime):
            data["quality"]["newest_updated_at"] = self.quality["newest_updated_at"].isoformat()
        return data


def _copy_staged(cur: psycopg.Cursor, staged_path: Path) -> None:
    with staged_path.open("rb") as source, cur.copy("COPY pg_temp.staged (raw) FROM STDIN") as copy:
        while block := source.read(COPY_BLOCK):
            copy.write(block)


def apply_change_file(
    conn: psycopg.Connection,
    dataset: Dataset,
    change: ChangeFile,
    staged_path: Path,
    stats: TransformStats,
    *,
    late: bool = False,
    replay: bool = False,
    dry_run: bool = False,
) -> FileResult:
    """Apply (or, with dry_run, only count) one file; commits unless dry_run."""
    source_key = dataset.changes_key(change.name)
    result = FileResult(source_key, change.ts, change.etag, change.size, late, replay, dry_run, stats)
    params = {"source_key": source_key, "file_ts": change.ts, "dataset": dataset.name}
    with conn.transaction(force_rollback=dry_run), conn.cursor() as cur:
        cur.execute(load_sql("stage.sql"))
        _copy_staged(cur, staged_path)
        cur.execute(load_sql("quality.sql"))
        result.quality = dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))

        if dry_run:
            counts = cur.execute(table_sql("classify.sql", dataset), params).fetchone()
            distinct, result.inserted, result.updated, result.unchanged, result.stale = counts
            result.duplicates = stats.rows_staged - distinct
            return result

        distinct, result.inserted, result.updated = cur.execute(table_sql("upsert.sql", dataset), params).fetchone()
        result.duplicates = stats.rows_staged - distinct
        untouched = distinct - result.inserted - result.updated
        if untouched:
            # Rows not written were either identical (unchanged) or older than the table (stale).
            # (Counted after the upsert, so rows written now show as same-file, not stale.)
            result.stale = cur.execute(table_sql("classify.sql", dataset), params).fetchone()[4]
            result.unchanged = untouched - result.stale
        if dataset.post_apply_sql:
            cur.execute(load_sql(dataset.post_apply_sql), params)
            result.history_rows = cur.rowcount

        ledger = {**params, **stats.as_dict(), **asdict(result)}
        ledger.update(etag=change.etag, size_bytes=change.size, late=late, replay=replay)
        cur.execute(load_sql("record_file.sql"), ledger)
        if cur.rowcount != 1:
            raise AlreadyApplied(source_key)
        cur.execute(load_sql("advance_watermark.sql"), params)
    return result
