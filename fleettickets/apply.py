"""Load one change file into its table in one transaction, in one pass over its bytes.

Load semantics (per file; the rules themselves are the dataset's, fleettickets/datasets.py):
the bytes stream from the bucket into COPY (fleettickets/reader.py) while their SHA-256 is
taken; the dataset's rules run in SQL over the raw records (rules_sql.py); the last
occurrence of a ticket in the file wins; one upsert keyed on ticket_id never replaces a row
with state from an older file, rewrites only changed content and records the newest file
that carried each ticket, and in the same statement the dataset's history hook writes what it
keeps (INC: observations, history); a late file's history, derived again; the ledger row
(with the SHA-256); the watermark; and proof that this run still holds the writer lock. All
or nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from fleettickets import rules_sql
from fleettickets.datasets import Dataset
from fleettickets.db import WriterLock, load_sql, load_statements, lock_is_held, table_sql
from fleettickets.errors import ChangeFileError, FleetTicketsError
from fleettickets.reader import ByteSource, Hashed, NeedsStrictReader, csv_body, strict_records
from fleettickets.storage import ChangeFile

log = logging.getLogger(__name__)

# Called with the file's SHA-256 before commit; raises ChangeFileError when the bytes are not
# the ones the ledger knows (a republished key during a replay).
IdentityCheck = Callable[[str], None]

T = TypeVar("T")


@dataclass
class TransformStats:
    """What the dataset's rules did to a file's records."""

    rows_read: int = 0  # data records, sentinel included
    dropped_sentinel: int = 0
    dropped_alarm: int = 0
    dropped_invalid: int = 0  # rows without a ticket_id
    rows_staged: int = 0
    nul_cells: int = 0  # kept cells that held a NUL character (removed)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class QualityCounts:
    """The data-quality counts of a file's kept rows (before dedup), from quality.sql."""

    kept_rows: int = 0
    null_assigned_team: int = 0
    null_created_at_service: int = 0
    null_owner: int = 0
    null_cluster: int = 0
    newest_updated_at: datetime | None = None  # None: no kept row has an ISO updated_at


def _take(cls: type[T], columns: dict[str, Any]) -> T:
    """The dataclass's fields out of quality.sql's named columns (popped), by name: a column the
    SQL no longer returns fails the load here instead of becoming a silent zero."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    missing = [name for name in names if name not in columns]
    if missing:
        raise LookupError(f"quality.sql returns no column {', '.join(missing)} for {cls.__name__}")
    return cls(**{name: columns.pop(name) for name in names})


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
    quality: QualityCounts = field(default_factory=QualityCounts)
    strict_reader: bool = False  # PostgreSQL's parser refused the bytes; Python's strict reader read them

    def as_dict(self) -> dict:
        data = asdict(self)
        data["file_ts"] = self.file_ts.isoformat()
        if self.quality.newest_updated_at is not None:
            data["quality"]["newest_updated_at"] = self.quality.newest_updated_at.isoformat()
        return data


def prepare_session(conn: psycopg.Connection) -> None:
    """Memory for the load's temp tables and sorts, on a fresh connection (fleettickets/sql/load_session.sql)."""
    for statement in load_statements("load_session.sql"):
        conn.execute(statement)


def apply_change_file(
    conn: psycopg.Connection,
    dataset: Dataset,
    change: ChangeFile,
    source: ByteSource,
    *,
    identity: IdentityCheck | None = None,
    lock: WriterLock | None = None,
    late: bool = False,
    replay: bool = False,
    dry_run: bool = False,
) -> FileResult:
    """Apply (or, with dry_run, only count) one file read from `source`; commits unless dry_run.

    With `lock`, the transaction commits only while that session still holds the writer lock.
    A row PostgreSQL refuses fails the file with its key (the stream stops there)."""
    source_key = dataset.changes_key(change.name)
    result = FileResult(source_key, change.ts, change.etag, "", change.size, late, replay, dry_run)
    try:
        try:
            _in_transaction(conn, dataset, result, source, identity, lock, strict=False)
        except NeedsStrictReader:
            result.strict_reader = True
            _in_transaction(conn, dataset, result, source, identity, lock, strict=True)
    except psycopg.OperationalError:
        raise  # the connection or the server: the task retries the whole transaction
    except (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError) as exc:
        if isinstance(exc, psycopg.errors.UniqueViolation) and "applied_files" in str(exc):
            raise AlreadyApplied(source_key) from None
        detail = (exc.diag.message_primary or str(exc)).strip()
        raise ChangeFileError(source_key, f"rejected by PostgreSQL: {detail}") from None
    return result


def _in_transaction(conn: psycopg.Connection, dataset: Dataset, result: FileResult, source: ByteSource,
                    identity: IdentityCheck | None, lock: WriterLock | None, *, strict: bool) -> None:
    with conn.transaction(force_rollback=result.dry_run), conn.cursor() as cur:
        bytes_ = Hashed(source())
        _copy_raw(cur, dataset, result.source_key, bytes_, strict=strict)
        result.sha256 = bytes_.drain()
        if identity is not None:
            identity(result.sha256)
        _clean(cur, dataset, result)
        _apply(cur, dataset, result, lock)


def _copy_raw(cur: psycopg.Cursor, dataset: Dataset, key: str, blocks: Iterable[bytes], *, strict: bool) -> None:
    """The file's records into pg_temp.raw_rows: PostgreSQL's CSV parser, or the strict reader."""
    cur.execute(rules_sql.raw_rows(dataset))
    if strict:
        header, chunks = strict_records(dataset, key, blocks)
        with cur.copy(rules_sql.copy_raw([*header, "nul_cells"], csv=False)) as copy:
            for chunk in chunks:
                for record in chunk:
                    copy.write_row(record)
        return
    header, body = csv_body(dataset, key, blocks)
    try:
        with cur.copy(rules_sql.copy_raw(header, csv=True)) as copy:
            for block in body:
                copy.write(block)
    except psycopg.DataError as exc:  # a record the parser refuses: the strict reader names it
        raise NeedsStrictReader(key) from exc


def _clean(cur: psycopg.Cursor, dataset: Dataset, result: FileResult) -> None:
    """The dataset's rules over the raw records: counts, then the file's distinct tickets."""
    params = {"sentinel": dataset.sentinel_prefix}
    cur.execute(rules_sql.over_cleaned("quality.sql", dataset), params)
    columns = dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))
    result.transform = _take(TransformStats, columns)
    result.quality = _take(QualityCounts, columns)
    for seq in columns.pop("invalid_rows") or []:
        log.warning("%s: data row %d has no ticket_id; dropped", result.source_key, seq)
    if columns:  # a column no dataclass takes would be computed and then lost
        raise LookupError(f"quality.sql returns columns nothing reads: {', '.join(sorted(columns))}")
    cur.execute(rules_sql.over_cleaned("dedup.sql", dataset), params)
    cur.execute(load_sql("analyze_src.sql"))


def _apply(cur: psycopg.Cursor, dataset: Dataset, result: FileResult, lock: WriterLock | None) -> None:
    params = {"source_key": result.source_key, "file_ts": result.file_ts, "dataset": dataset.name}
    stats = result.transform
    if result.dry_run:
        counts = cur.execute(table_sql("classify.sql", dataset), params).fetchone()
        distinct, result.inserted, result.updated, result.unchanged, result.stale = counts
        result.duplicates = stats.rows_staged - distinct
        return

    distinct, result.inserted, result.updated, carried, result.history_rows = cur.execute(
        upsert_sql(dataset), params).fetchone()
    result.duplicates = stats.rows_staged - distinct
    untouched = distinct - result.inserted - result.updated - carried
    if untouched:
        # Rows not written were either identical (unchanged) or older than the table (stale).
        # (Counted after the upsert, so rows written now show as same-file, not stale.)
        result.stale = cur.execute(table_sql("classify.sql", dataset), params).fetchone()[4]
        if dataset.late_sql:  # only a ticket the upsert left alone can be late
            for statement in load_statements(dataset.late_sql):
                cur.execute(statement, params)
            result.history_rows += cur.rowcount
    result.unchanged = carried + untouched - result.stale

    ledger = {**params, **stats.as_dict(), **asdict(result)}
    ledger.update(etag=result.etag, size_bytes=result.size_bytes, late=result.late, replay=result.replay)
    cur.execute(load_sql("record_file.sql"), ledger)
    if cur.rowcount != 1:
        raise AlreadyApplied(result.source_key)
    cur.execute(load_sql("advance_watermark.sql"), params)
    if lock is not None and not lock_is_held(cur.connection, lock):
        raise WriterLockLost(dataset.name)


@cache
def upsert_sql(dataset: Dataset) -> sql.Composed:
    """upsert.sql with the dataset's history hook composed in (one statement)."""
    return table_sql("upsert.sql", dataset, history=sql.SQL(load_sql(dataset.history_sql).strip()))


def preview_file(conn: psycopg.Connection, dataset: Dataset, key: str, source: ByteSource,
                 *, strict: bool = False) -> tuple[TransformStats, list[dict]]:
    """What the loader makes of a file: its counts and its kept rows in file order (before the
    last occurrence wins), from a transaction that is rolled back."""
    result = FileResult(key, datetime.min, "", "", 0, False, False, True)
    try:
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            _copy_raw(cur, dataset, key, source(), strict=strict)
            _clean(cur, dataset, result)
            rows = cur.execute(rules_sql.over_cleaned("kept_rows.sql", dataset),
                               {"sentinel": dataset.sentinel_prefix}).fetchall()
    except NeedsStrictReader:
        return preview_file(conn, dataset, key, source, strict=True)
    return result.transform, [row[0] for row in rows]
