"""One `Dataset` per change stream: the engine is the same, only this config differs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath

EAT = timezone(timedelta(hours=3), "EAT")
# ASCII digits only: `\d` would also take full-width and other Unicode digits, and such a
# name would sort after every real file and become the watermark.
_FILE_NAME = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2})-([0-9]{2})-([0-9]{2})\.csv\Z", re.ASCII)


@dataclass(frozen=True)
class Dataset:
    name: str
    table: str  # schema-qualified
    root: str  # automations/<name>/
    # A file in fleettickets/sql/ run in the apply transaction, statement by statement; its
    # last statement's row count is the history rows the file wrote.
    post_apply_sql: str | None = None
    # Run after unapply_file.sql when an applied file leaves the stream (statement by statement).
    unapply_sql: str | None = None

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
    "inc": Dataset("inc", "tickets.inc", "automations/inc/", post_apply_sql="inc_history.sql",
                   unapply_sql="inc_unapply_file.sql"),
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
