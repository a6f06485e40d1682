"""Connections, SQL files and the per-dataset writer lock."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import resources

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from fleettickets.datasets import Dataset

APP_NAME = "fleettickets"


def connect(dsn: str, *, autocommit: bool = False) -> psycopg.Connection:
    # psycopg wants a libpq URI; SQLAlchemy-style driver suffixes are tolerated.
    dsn = dsn.replace("postgresql+psycopg://", "postgresql://", 1)
    return psycopg.connect(dsn, autocommit=autocommit, application_name=APP_NAME)


def safe_dsn(dsn: str) -> str:
    """The DSN with its password masked, for logs and error messages."""
    try:
        return make_url(dsn).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparseable DSN is shown as nothing at all
        return "<unparseable database URL>"


@cache
def load_sql(name: str) -> str:
    """A statement from fleettickets/sql/ (SQL lives in .sql files, not in Python strings)."""
    return resources.files("fleettickets.sql").joinpath(name).read_text(encoding="utf-8")


@cache
def load_statements(name: str) -> tuple[str, ...]:
    """The statements of a multi-statement .sql file, to run one by one with parameters (the
    extended protocol takes one statement at a time). Statements end with `;` at a line end."""
    text = "\n".join(line for line in load_sql(name).splitlines() if not line.lstrip().startswith("--"))
    return tuple(part.strip() for part in text.split(";\n") if part.strip().rstrip(";").strip())


def table_sql(name: str, dataset: Dataset) -> sql.Composed:
    """A .sql file whose `{table}` is the dataset's table, quoted as an identifier."""
    schema, table = dataset.table.split(".")
    return sql.SQL(load_sql(name)).format(table=sql.Identifier(schema, table))


def table_statements(name: str, dataset: Dataset) -> tuple[sql.Composed, ...]:
    """load_statements with `{table}` as the dataset's table, quoted as an identifier."""
    schema, table = dataset.table.split(".")
    return tuple(sql.SQL(s).format(table=sql.Identifier(schema, table)) for s in load_statements(name))


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a name."""
    value = zlib.crc32(name.encode()) | (0x5F1E << 32)
    return value


@dataclass(frozen=True)
class WriterLock:
    """Who holds a dataset's writer lock: each file's transaction proves it still does."""

    key: int
    backend_pid: int


def lock_is_held(conn: psycopg.Connection, lock: WriterLock) -> bool:
    """Whether the session that took the lock still holds it (a terminated session loses it)."""
    row = conn.execute(load_sql("writer_lock_held.sql"),
                       {"key": lock.key, "pid": lock.backend_pid}).fetchone()
    return bool(row[0])


@contextmanager
def advisory_lock(conn: psycopg.Connection, name: str, *, wait: bool) -> Iterator[bool]:
    """Hold a session-level advisory lock while the block runs; yields whether it was taken."""
    key = lock_key(name)
    if wait:
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        got = True
    else:
        got = bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])
    try:
        yield got
    finally:
        if got and not conn.closed:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
