"""One `Dataset` per change stream: the engine is the same, only this config differs.

A dataset declares its load semantics here, in one place (as a dlt resource does next to
its source); the loader, the SQL it composes, the sample generator and the docs read them:

- the contract's columns (`columns.txt`), which of them are dropped, and the key;
- which rows are not tickets (the truncation sentinel, rows without a key, alarm rows);
- how kept cells are normalised (`Rule`), and that the empty string is null;
- order: files apply in name (time) order; within a file the last occurrence of a key wins;
- the history hook (INC history), what it owes a late file, and its inverse for a file
  leaving the stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from importlib import resources
from pathlib import PurePosixPath

EAT = timezone(timedelta(hours=3), "EAT")
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
# The exporter's last row when it truncated a file: not a ticket.
SENTINEL_PREFIX = "EXPORT STOPPED DUE TO EXCESSIVE SIZE"
# What "trimmed" means, in Python and in SQL alike: ASCII whitespace.
WHITESPACE = " \t\n\r\f\v"


class Rule(StrEnum):
    """How a kept cell is normalised: trimmed of WHITESPACE, then (maybe) case-folded."""

    TRIM = "trim"
    LOWER = "lower"
    UPPER = "upper"


CONTRACT_RULES: tuple[tuple[str, Rule], ...] = (
    ("ticket_id", Rule.TRIM), ("region", Rule.LOWER), ("raw_status", Rule.UPPER),
    ("bucket", Rule.TRIM), ("is_actionable", Rule.LOWER),
)
# ASCII digits only: `\d` would also take full-width and other Unicode digits, and such a
# name would sort after every real file and become the watermark.
_FILE_NAME = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2})-([0-9]{2})-([0-9]{2})\.csv\Z", re.ASCII)


@dataclass(frozen=True)
class Dataset:
    name: str
    table: str  # schema-qualified
    root: str  # automations/<name>/
    # The history hook: CTEs of fleettickets/sql/ composed into upsert.sql (the same statement
    # as the upsert, over what it wrote), naming the history rows they write `history_rows`.
    history_sql: str = "no_history.sql"
    # Run in the apply transaction after the upsert, statement by statement, only when it left
    # some of the file's tickets alone (a late file): the last statement's row count adds to the
    # history rows the file wrote.
    late_sql: str | None = None
    # Run after unapply_file.sql when an applied file leaves the stream (statement by statement).
    unapply_sql: str | None = None
    columns: tuple[str, ...] = CONTRACT_COLUMNS  # mapped by header name, in any order
    dropped: frozenset[str] = DROPPED_COLUMNS
    key: str = "ticket_id"  # trimmed; a row without one is dropped (and logged)
    rules: tuple[tuple[str, Rule], ...] = CONTRACT_RULES  # every other kept cell is verbatim
    skip_flag: str = "is_alarm"  # a row whose flag reads `true` (any case) is not a ticket
    sentinel_prefix: str = SENTINEL_PREFIX

    @property
    def placement_table(self) -> str:
        """Where geocoding keeps the table's placements (migrations/09), schema-qualified."""
        return f"{self.table}_placement"

    @property
    def kept_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.dropped)

    def rule(self, column: str) -> Rule | None:
        return dict(self.rules).get(column)

    @property
    def changes_prefix(self) -> str:
        return f"{self.root}changes/"

    @property
    def processed_prefix(self) -> str:
        return f"{self.root}processed/"

    @property
    def quarantine_prefix(self) -> str:
        return f"{self.root}quarantine/"

    def changes_key(self, file_name: str) -> str:
        return self.changes_prefix + file_name

    @property
    def lock_name(self) -> str:
        return f"fleettickets.ingest.{self.name}"


DATASETS: dict[str, Dataset] = {
    "inc": Dataset("inc", "tickets.inc", "automations/inc/", history_sql="inc_history.sql",
                   late_sql="inc_history_late.sql", unapply_sql="inc_unapply_file.sql"),
    "crq": Dataset("crq", "tickets.crq", "automations/crq/"),
}


def get_dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}") from None


def parse_file_ts(key: str) -> datetime | None:
    """The EAT timestamp in a change file's name, or None when the key is not a change file."""
    match = _FILE_NAME.match(PurePosixPath(key).name)
    if not match:
        return None
    try:
        return datetime(*(int(g) for g in match.groups()), tzinfo=EAT)  # type: ignore[misc]
    except ValueError:  # e.g. month 13: not a change file
        return None


def file_name_for(ts: datetime) -> str:
    return ts.astimezone(EAT).strftime("%Y-%m-%dT%H-%M-%S.csv")


def eat_label(key: str | None) -> str:
    """'2026-06-15 17:00:00 EAT' for a change key, for people."""
    ts = parse_file_ts(key) if key else None
    return ts.astimezone(EAT).strftime("%Y-%m-%d %H:%M:%S EAT") if ts else "-"
