"""One `Dataset` per change stream: the engine is the same, only this config differs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath

EAT = timezone(timedelta(hours=3), "EAT")
_FILE_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})\.csv$")


@dataclass(frozen=True)
class Dataset:
    name: str
    table: str  # schema-qualified
    root: str  # automations/<name>/
    post_apply_sql: str | None = None  # file in fleettickets/sql/, run in the apply transaction

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
    "inc": Dataset("inc", "tickets.inc", "automations/inc/", post_apply_sql="inc_history.sql"),
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
