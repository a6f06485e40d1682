"""Apply one cleaned change file to its table in one transaction.

Load semantics (per file): COPY into a temp staging table; the last occurrence of a ticket
in the file wins; one upsert keyed on ticket_id that never replaces a row with state from
an older file, rewrites only changed content and records the newest file that carried each
ticket; the dataset's post-apply hook; the ledger row (with the SHA-256 of the bytes); the
watermark; and proof that this run still holds the writer lock. All or nothing.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg

from fleettickets.datasets import Dataset
from fleettickets.db import WriterLock, load_sql, load_statements, lock_is_held, table_sql
from fleettickets.errors import ChangeFileError, FleetTicketsError
from fleettickets.storage import ChangeFile
from fleettickets.transform import TransformStats

log = logging.getLogger(__name__)

COPY_BLOCK = 1 << 20


class AlreadyApplied(FleetTicketsError):
    """The ledger already holds this file: another writer committed it first (a safety net
    behind the advisory lock). The transaction rolls back, so nothing is applied twice."""

    def __init__(self, key: str) -> None:
        super().__init__(f"{key}: already in the ledger (committed by another writer); rolled back")


class WriterLockLost(FleetTicketsError):
    """The session holding the dataset's writer lock ended (terminated, connection lost): a
    second writer may be running, so this run stops before committing anything more."""

    def __init__(self, dataset: str) -> None:
        super().__init__(
            f"ingest-{dataset} lost its writer lock (the database session holding it ended);"
            " the current file was rolled back and nothing more was applied: run ingest again"
        )


@dataclass
class FileResult:
    source_key: str
    file_ts: datetime
    etag: str
    sha256: str
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
    sha256: str,
    staged_path: Path,
    stats: TransformStats,
    *,
    lock: WriterLock | None = None,
    late: bool = False,
    replay: bool = False,
    dry_run: bool = False,
) -> FileResult:
    """Apply (or, with dry_run, only count) one file; commits unless dry_run.

    With `lock`, the transaction commits only while that session still holds the writer lock.
    A row PostgreSQL refuses fails the file with its key (the stream stops there)."""
    source_key = dataset.changes_key(change.name)
    result = FileResult(source_key, change.ts, change.etag, sha256, change.size, late, replay, dry_run, stats)
    try:
        with conn.transaction(force_rollback=dry_run), conn.cursor() as cur:
            _apply(cur, dataset, result, staged_path, stats, lock)
    except psycopg.OperationalError:
        raise  # the connection or the server: the task retries the whole transaction
    except (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError) as exc:
        if isinstance(exc, psycopg.errors.UniqueViolation) and "applied_files" in str(exc):
            raise AlreadyApplied(source_key) from None
        detail = (exc.diag.message_primary or str(exc)).strip()
        raise ChangeFileError(source_key, f"rejected by PostgreSQL: {detail}") from None
    return result


def _apply(cur: psycopg.Cursor, dataset: Dataset, result: FileResult, staged_path: Path,
           stats: TransformStats, lock: WriterLock | None) -> None:
    params = {"source_key": result.source_key, "file_ts": result.file_ts, "dataset": dataset.name}
    cur.execute(load_sql("stage.sql"))
    _copy_staged(cur, staged_path)
    cur.execute(load_sql("dedup.sql"))
    cur.execute(load_sql("quality.sql"))
    result.quality = dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))

    if result.dry_run:
        counts = cur.execute(table_sql("classify.sql", dataset), params).fetchone()
        distinct, result.inserted, result.updated, result.unchanged, result.stale = counts
        result.duplicates = stats.rows_staged - distinct
        return

    distinct, result.inserted, result.updated, carried = cur.execute(
        table_sql("upsert.sql", dataset), params).fetchone()
    result.duplicates = stats.rows_staged - distinct
    untouched = distinct - result.inserted - result.updated - carried
    if untouched:
        # Rows not written were either identical (unchanged) or older than the table (stale).
        # (Counted after the upsert, so rows written now show as same-file, not stale.)
        result.stale = cur.execute(table_sql("classify.sql", dataset), params).fetchone()[4]
    result.unchanged = carried + untouched - result.stale
    if dataset.post_apply_sql:
        for statement in load_statements(dataset.post_apply_sql):
            cur.execute(statement, params)
        result.history_rows = cur.rowcount

    ledger = {**params, **stats.as_dict(), **asdict(result)}
    ledger.update(etag=result.etag, size_bytes=result.size_bytes, late=result.late, replay=result.replay)
    cur.execute(load_sql("record_file.sql"), ledger)
    if cur.rowcount != 1:
        raise AlreadyApplied(result.source_key)
    cur.execute(load_sql("advance_watermark.sql"), params)
    if lock is not None and not lock_is_held(cur.connection, lock):
        raise WriterLockLost(dataset.name)
