"""Connections, SQL files and the per-dataset writer lock."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import resources

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from pydantic import SecretStr

from fleettickets.config import secret_origin
from fleettickets.datasets import Dataset
from fleettickets.errors import DatabaseConnectError

APP_NAME = "fleettickets"


def connect(dsn: str | SecretStr, *, autocommit: bool = False) -> psycopg.Connection:
    """A connection; a failure to connect is a `DatabaseConnectError` that never shows the password.

    libpq's messages can quote the whole connection string (a malformed URL is echoed as is),
    and this message ends up in the CLI's output, flow-run state messages and Prefect's logs.
    """
    raw = dsn.get_secret_value() if isinstance(dsn, SecretStr) else dsn
    # psycopg wants a libpq URI; SQLAlchemy-style driver suffixes are tolerated.
    raw = raw.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        return psycopg.connect(raw, autocommit=autocommit, application_name=APP_NAME)
    except psycopg.Error as exc:
        raise connect_error(raw, exc, secret_origin(dsn, "DATABASE_URL")) from None


# What libpq says (lowercased, the first pattern that matches) -> what an operator fixes, and
# whether waiting may help. Tried in this order; anything else is reported as it is, scrubbed.
_CONNECT_FAILURES: tuple[tuple[str, str, bool], ...] = (
    (r"password authentication failed|authentication failed",
     "{where} refused the password of user {user}: fix the password in {origin}", False),
    (r"no password supplied", "{where} wants a password for user {user}: add it to {origin}", False),
    (r'role ".*" does not exist', "role {user} does not exist on {where}: fix the user in {origin}", False),
    (r'database ".*" does not exist',
     "database {dbname} does not exist on {where}: create it or fix the database name in {origin}", False),
    (r"no pg_hba\.conf entry",
     "{where} does not accept user {user} for database {dbname} from this host (pg_hba.conf)", False),
    (r"invalid integer value|invalid port", "{origin} has a port that is not a number", False),
    (r"failed to resolve host|could not translate host name",
     "unknown database host {host}: fix the host in {origin}", False),
    (r"connection refused",
     "cannot reach {where} (connection refused): start PostgreSQL or fix the host and port in {origin}", True),
    (r"timeout|timed out", "{where} did not answer in time", True),
)


def connect_error(dsn: str, exc: psycopg.Error, origin: str = "DATABASE_URL") -> DatabaseConnectError:
    """What went wrong, said so that an operator knows what to fix; never the password."""
    try:
        info = conninfo_to_dict(dsn)
    except psycopg.Error:
        return DatabaseConnectError(
            f"{origin} is not a PostgreSQL URL (postgresql://user:password@host:port/database)", retryable=False)
    host, port = info.get("host") or "localhost", info.get("port") or "5432"
    user, dbname = info.get("user") or "(default user)", info.get("dbname") or info.get("user") or "(default)"
    where = f"PostgreSQL at {host}:{port}"
    text = " ".join(str(exc).split())
    lowered = text.lower()
    for pattern, message, retryable in _CONNECT_FAILURES:
        if re.search(pattern, lowered):
            return DatabaseConnectError(
                message.format(where=where, host=host, user=user, dbname=dbname, origin=origin), retryable=retryable)
    return DatabaseConnectError(f"cannot connect to {where} as {user}: {_scrub(text, info)}",
                                retryable=isinstance(exc, psycopg.OperationalError))


def _scrub(text: str, info: dict[str, str]) -> str:
    password = info.get("password")
    return text.replace(password, "***") if password else text


def safe_dsn(dsn: str | SecretStr) -> str:
    """The DSN with its password masked, for logs and error messages."""
    from sqlalchemy.engine import make_url  # 0.2 s to import: only `migrate` prints a DSN

    raw = dsn.get_secret_value() if isinstance(dsn, SecretStr) else dsn
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except Exception:  # an unparseable DSN is shown as nothing at all
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


def _on_table(statement: str, dataset: Dataset, **parts: sql.Composable) -> sql.Composed:
    """The statement with `{table}` as the dataset's table and `{placement}` as its placement
    table (migrations/09), quoted as identifiers; and any other placeholder as `parts` give it."""
    schema, table = dataset.table.split(".")
    placement_schema, placement = dataset.placement_table.split(".")
    return sql.SQL(statement).format(table=sql.Identifier(schema, table),
                                     placement=sql.Identifier(placement_schema, placement), **parts)


def table_sql(name: str, dataset: Dataset, **parts: sql.Composable) -> sql.Composed:
    """A .sql file whose `{table}` is the dataset's table (and `{placement}` its placement table)."""
    return _on_table(load_sql(name), dataset, **parts)


def table_statements(name: str, dataset: Dataset) -> tuple[sql.Composed, ...]:
    """load_statements with `{table}` as the dataset's table, quoted as an identifier."""
    return tuple(_on_table(s, dataset) for s in load_statements(name))


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
        conn.execute(load_sql("advisory_lock.sql"), {"key": key})
        got = True
    else:
        got = bool(conn.execute(load_sql("advisory_try_lock.sql"), {"key": key}).fetchone()[0])
    try:
        yield got
    finally:
        if got and not conn.closed:
            conn.execute(load_sql("advisory_unlock.sql"), {"key": key})


@contextmanager
def hold_writer_lock(conn: psycopg.Connection, dataset: Dataset, *, wait: bool) -> Iterator[WriterLock | None]:
    """The dataset's writer lock on this session while the block runs (None: another session holds it)."""
    with advisory_lock(conn, dataset.lock_name, wait=wait) as locked:
        yield WriterLock(lock_key(dataset.lock_name), conn.info.backend_pid) if locked else None
