"""What the database remembers of a dataset's stream: the watermark, the ledger of accepted
files, the last run, and whether a full replay is owed."""

from __future__ import annotations

import json

import psycopg

from fleettickets.datasets import Dataset
from fleettickets.db import load_sql
from fleettickets.plan import LedgerEntry
from fleettickets.summary import RunSummary


def read_watermark(conn: psycopg.Connection, dataset: Dataset) -> str | None:
    row = conn.execute(load_sql("read_watermark.sql"), {"dataset": dataset.name}).fetchone()
    return row[0] if row else None


def read_ledger(conn: psycopg.Connection, dataset: Dataset) -> dict[str, LedgerEntry]:
    """Applied files of a dataset: canonical key -> what was applied."""
    rows = conn.execute(load_sql("read_ledger.sql"), {"dataset": dataset.name}).fetchall()
    return {key: LedgerEntry(etag, sha256) for key, etag, sha256 in rows}


def rebuild_required(conn: psycopg.Connection, dataset: Dataset) -> bool:
    """Whether an applied file left the stream and the dataset owes a full replay."""
    row = conn.execute(load_sql("rebuild_required.sql"), {"dataset": dataset.name}).fetchone()
    return bool(row and row[0])


def rebuild_done(conn: psycopg.Connection, dataset: Dataset) -> None:
    conn.execute(load_sql("rebuild_done.sql"), {"dataset": dataset.name})


def record_run(conn: psycopg.Connection, summary: RunSummary) -> None:
    """Remember the run on the dataset's import_meta row (status and the last run)."""
    compact = {k: v for k, v in summary.as_dict().items() if k != "files"}
    conn.execute(load_sql("record_run.sql"), {"summary": json.dumps(compact), "dataset": summary.dataset})
