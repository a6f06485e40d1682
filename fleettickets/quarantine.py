"""Take a file out of a dataset's stream, wherever it is (changes/ or processed/).

A file not applied (pending, held back, drifted, or other bytes re-published under an applied
key) is only moved to quarantine/. An applied file is also taken out of the accepted stream:
its ledger row goes, the tickets whose state it set are removed, and the dataset owes a full
replay of the remaining files (`rebuild_required`), which rebuilds them in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import psycopg

from fleettickets import storage
from fleettickets.datasets import Dataset, parse_file_ts
from fleettickets.db import advisory_lock, load_sql, table_statements
from fleettickets.errors import NotFoundError


@dataclass(frozen=True)
class Quarantined:
    source: str  # where the file was
    target: str  # where it is now
    unapplied: bool  # it had been applied: the dataset owes a full replay
    tickets_removed: int = 0


def quarantine(conn: psycopg.Connection, client: Any, bucket: str, dataset: Dataset, key: str) -> Quarantined:
    """Move the file named by `key` (a key or a file name) to quarantine/, un-applying it if needed."""
    name = PurePosixPath(key).name
    file_ts = parse_file_ts(name)
    if file_ts is None:
        raise NotFoundError(f"{key}: not a change file name (<YYYY-MM-DDTHH-mm-ss>.csv)")
    source = storage.find_stream_file(client, bucket, dataset, name)
    canonical = dataset.changes_key(name)
    with advisory_lock(conn, dataset.lock_name, wait=True):
        applied = conn.execute(load_sql("read_ledger_entry.sql"),
                               {"dataset": dataset.name, "source_key": canonical}).fetchone()
        in_changes = source == canonical
        if applied and in_changes and not _is_applied_copy(client, bucket, dataset, source, applied[0]):
            # Other bytes re-published under an applied key: the applied original stays.
            return Quarantined(source, storage.quarantine(client, bucket, dataset, source), unapplied=False)
        removed = _unapply(conn, dataset, canonical, file_ts) if applied else 0
        target = storage.quarantine(client, bucket, dataset, source)
        if applied and in_changes:  # applied, never archived: its archived copy goes too, if any
            archived = dataset.processed_prefix + name
            if storage.content_sha256(client, bucket, archived) is not None:
                storage.quarantine(client, bucket, dataset, archived)
    return Quarantined(source, target, unapplied=bool(applied), tickets_removed=removed)


def _is_applied_copy(client: Any, bucket: str, dataset: Dataset, key: str, applied_sha256: str | None) -> bool:
    """Whether the object under changes/ holds the bytes the ledger accepted (files applied
    before hashes were recorded: the archived original's bytes)."""
    sha256 = storage.content_sha256(client, bucket, key)
    if applied_sha256 is None:
        applied_sha256 = storage.content_sha256(client, bucket, dataset.processed_prefix + PurePosixPath(key).name)
    return applied_sha256 is None or sha256 == applied_sha256


def _unapply(conn: psycopg.Connection, dataset: Dataset, source_key: str, file_ts: Any) -> int:
    """One transaction; returns how many tickets are removed until the replay rebuilds them."""
    params = {"dataset": dataset.name, "source_key": source_key, "file_ts": file_ts}
    statements = table_statements("unapply_file.sql", dataset)
    if dataset.unapply_sql:
        statements += table_statements(dataset.unapply_sql, dataset)
    with conn.transaction(), conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement, params)
        return cur.execute(load_sql("unapplied_count.sql")).fetchone()[0]
