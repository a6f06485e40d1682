"""What the database remembers of a dataset's stream: the watermark, the ledger of accepted
files, the last run, and whether a full replay is owed."""

from __future__ import annotations

import json
from dataclasses import dataclass

import psycopg

from fleettickets.datasets import Dataset
from fleettickets.db import load_sql
from fleettickets.plan import LedgerEntry
from fleettickets.summary import Mode, RunSummary, Status


@dataclass(frozen=True)
class StreamState:
    """What a run found under the writer lock, and therefore what it replays."""

    watermark: str | None
    ledger: dict[str, LedgerEntry]
    reseed: bool
    from_key: str | None
    replay_owed: bool  # an applied file left the stream: this run replays all of it

    @property
    def full_replay(self) -> bool:
        return self.reseed and not self.from_key


def start_run(conn: psycopg.Connection, dataset: Dataset, summary: RunSummary, *, reseed: bool,
              from_key: str | None) -> StreamState:
    """Under the writer lock: the watermark and the ledger (no other writer moves them while it is
    held), and whether a quarantined applied file owes a full replay (a dry run owes none)."""
    owed = rebuild_required(conn, dataset) and not summary.dry_run
    if owed:
        reseed, from_key, summary.mode = True, None, Mode.RESEED
    summary.watermark_before = read_watermark(conn, dataset)
    return StreamState(summary.watermark_before, read_ledger(conn, dataset), reseed, from_key, owed)


def finish_run(conn: psycopg.Connection, dataset: Dataset, summary: RunSummary, state: StreamState) -> RunSummary:
    """After the files: the watermark they left, the run's status, a full replay that paid what was
    owed, and the run on import_meta (a dry run records nothing)."""
    summary.watermark_after = read_watermark(conn, dataset)
    if summary.status is Status.RUNNING:
        summary.finish(Status.COMPLETED)
        if state.full_replay and not summary.dry_run:
            rebuild_done(conn, dataset)
    if not summary.dry_run:
        record_run(conn, summary)
    return summary


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
