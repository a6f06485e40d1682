"""Small change streams for the arrival-order tests: files as bytes, and the in-order replay
of the accepted ones (table and full INC history), computed from the contract alone."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from fleettickets.datasets import CONTRACT_COLUMNS, EAT, file_name_for
from tests import oracle

TRACKED = ("raw_status", "bucket", "assigned_team", "owner")
T0 = datetime(2026, 6, 15, 6, 0, tzinfo=EAT)


def ticket_row(ticket_id: str, status: str, bucket: str, team: str, owner: str, note: str = "") -> dict[str, str]:
    """A contract row with the fields history tracks set, the rest plausible and fixed."""
    return {
        "ticket_id": ticket_id, "source_type": "export", "department": "field", "service_type": "ftth",
        "is_alarm": "false", "is_actionable": "true", "bucket": bucket, "raw_status": status,
        "region": "Nairobi", "cluster": "Kilimani", "location": "Argwings Kodhek Rd", "customer_id": "C1",
        "summary": f"no internet {note}".strip(), "category": "fault", "priority": "P2",
        "assigned_team": team, "owner": owner, "created_at_service": "2026-06-14 08:00:00",
        "closed_at": "2026-06-15 09:00:00" if bucket == "closed" else "", "sla_status": "",
        "mttr": "", "created_at": "2026-06-14 08:00:00", "updated_at": "2026-06-14 09:00:00",
        "first_seen_at": "2026-06-14 08:00:00", "last_seen_at": "2026-06-14 09:00:00",
    }


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CONTRACT_COLUMNS), quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in CONTRACT_COLUMNS})
    return out.getvalue().encode()


def name_at(minutes: int) -> str:
    return file_name_for(T0 + timedelta(minutes=minutes))


@dataclass(frozen=True)
class StreamFile:
    name: str
    data: bytes

    def rows(self) -> dict[str, dict]:
        """ticket_id -> cleaned row (last occurrence wins), read by the independent oracle."""
        return oracle.read_rows(io.StringIO(self.data.decode("utf-8-sig"), newline=""))


def replay(files: list[StreamFile]) -> dict[str, dict]:
    state: dict[str, dict] = {}
    for f in sorted(files, key=lambda f: f.name):
        state.update(f.rows())
    return state


def replay_history(files: list[StreamFile]) -> set[tuple]:
    """(ticket, file name, tracked state, previous tracked state) wherever the state changed
    from the previous file that carried the ticket; a first sighting has no previous state."""
    previous: dict[str, tuple] = {}
    rows = set()
    for f in sorted(files, key=lambda f: f.name):
        for tid, row in f.rows().items():
            state = tuple(row[c] for c in TRACKED)
            if tid not in previous or previous[tid] != state:
                rows.add((tid, f.name, state, previous.get(tid, (None,) * len(TRACKED))))
            previous[tid] = state
    return rows
