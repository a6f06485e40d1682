"""Small helpers shared by the tests (the oracle lives in oracle.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from fleettickets.datasets import file_name_for, get_dataset
from tests import oracle


def upload(s3: Any, bucket: str, dataset: str, paths: list[Path], names: list[str] | None = None) -> None:
    """Put files under changes/, optionally under other names."""
    prefix = get_dataset(dataset).changes_prefix
    for i, path in enumerate(paths):
        s3.put_object(Bucket=bucket, Key=prefix + (names[i] if names else path.name), Body=path.read_bytes())


def keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def table_state(conn: psycopg.Connection, dataset: str) -> dict[str, dict]:
    table = get_dataset(dataset).table
    return {tid: raw for tid, raw in conn.execute(f"SELECT ticket_id, raw FROM {table}")}  # noqa: S608


def row_versions(conn: psycopg.Connection, dataset: str) -> dict[str, tuple]:
    """ticket_id -> (xmin, source_key): changes whenever a row is rewritten."""
    table = get_dataset(dataset).table
    return {
        tid: (xmin, key)
        for tid, xmin, key in conn.execute(f"SELECT ticket_id, xmin::text, source_key FROM {table}")  # noqa: S608
    }


def history(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT ticket_id, file_ts, raw_status, bucket, assigned_team, owner"
        " FROM tickets.inc_history ORDER BY 1, 2"
    ).fetchall()


def ledger(conn: psycopg.Connection, dataset: str) -> list[tuple]:
    return conn.execute(
        "SELECT source_key, inserted, updated, replayed_count FROM tickets.applied_files"
        " WHERE dataset = %s ORDER BY source_key",
        (dataset,),
    ).fetchall()


def watermark(conn: psycopg.Connection, dataset: str) -> str | None:
    return conn.execute(
        "SELECT metadata->>'source_max_key' FROM tickets.import_meta WHERE dataset = %s", (dataset,)
    ).fetchone()[0]


def expected_history(paths: list[Path]) -> set[tuple[str, str]]:
    """(ticket_id, file name) wherever status, bucket, team or owner changed, first sighting included."""
    tracked = ("raw_status", "bucket", "assigned_team", "owner")
    state: dict[str, tuple] = {}
    rows = set()
    for path in sorted(paths, key=lambda p: p.name):
        for tid, row in oracle.read_file(path).items():
            values = tuple(row[c] for c in tracked)
            if state.get(tid) != values:
                rows.add((tid, path.name))
            state[tid] = values
    return rows


def history_keys(conn: psycopg.Connection) -> set[tuple[str, str]]:
    return {(tid, file_name_for(ts)) for tid, ts, *_ in history(conn)}
