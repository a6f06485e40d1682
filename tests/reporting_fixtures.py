"""Tickets for the reporting tests: rows written straight into tickets.inc / tickets.crq (and
their positions into tickets.inc_placement / tickets.crq_placement), and change files applied
with the engine's own apply (stage, upsert, INC history hook, ledger)."""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

from fleettickets.apply import apply_change_file
from fleettickets.datasets import CONTRACT_COLUMNS, file_name_for, get_dataset, parse_file_ts
from fleettickets.storage import ChangeFile

EAT = timezone(timedelta(hours=3))
AS_OF = datetime(2026, 6, 17, 12, 0, tzinfo=EAT)


def eat_text(ts: datetime | None) -> str | None:
    """The export's naive EAT text for an instant."""
    return None if ts is None else ts.astimezone(EAT).strftime("%Y-%m-%d %H:%M:%S")


def raw_row(ticket_id: str, **values: object) -> dict:
    """A cleaned raw row with every kept contract column; datetimes become naive EAT text."""
    row: dict = dict.fromkeys(get_dataset("inc").kept_columns)
    row.update(ticket_id=ticket_id, is_actionable="true", bucket="pending", raw_status="NEW",
               region="nairobi", cluster="Kilimani", location="Argwings Kodhek Rd",
               summary="No internet since morning", category="No Service", priority="P3",
               owner="Service Desk")
    for key, value in values.items():
        if key not in row:
            raise KeyError(f"{key} is not a kept contract column")
        row[key] = eat_text(value) if isinstance(value, datetime) else value
    return row


@dataclass
class Ticket:
    ticket_id: str
    raw: dict
    lat: float | None = None
    lon: float | None = None
    precision: str | None = None


def ticket(ticket_id: str, lat: float | None = None, lon: float | None = None,
           precision: str | None = None, **values: object) -> Ticket:
    if lat is not None and precision is None:
        precision = "location"
    return Ticket(ticket_id, raw_row(ticket_id, **values), lat, lon, precision)


def insert(conn: psycopg.Connection, dataset: str, tickets: list[Ticket],
           file_ts: datetime = AS_OF - timedelta(hours=1)) -> None:
    """Write rows directly (typed columns are generated from raw), and the positions of those
    that have one into the placement table, with the ticket row's open / actionable flags."""
    table, placement = get_dataset(dataset).table, get_dataset(dataset).placement_table
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {table} (ticket_id, raw, source_key, file_ts)"  # noqa: S608
            " VALUES (%s, %s::jsonb, %s, %s)",
            [(t.ticket_id, json.dumps(t.raw), f"test/{dataset}", file_ts) for t in tickets],
        )
        cur.executemany(
            f"INSERT INTO {placement} (ticket_id, open, actionable, geom, geom_precision)"  # noqa: S608
            f" SELECT ticket_id, coalesce(bucket = 'pending', false), coalesce(is_actionable, false),"
            " ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s"
            f" FROM {table} WHERE ticket_id = %s",
            [(t.lon, t.lat, t.precision, t.ticket_id) for t in tickets if t.lat is not None],
        )


def apply_rows(conn: psycopg.Connection, dataset: str, file_ts: datetime, rows: list[dict]) -> None:
    """Apply one change file of cleaned rows with the engine's own load (rules, upsert, hook, ledger):
    the rows go out as the export would write them (every contract column, QUOTE_ALL)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CONTRACT_COLUMNS), quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row[c] for c in CONTRACT_COLUMNS} | {"is_alarm": "false"})
    _apply(conn, dataset, file_ts, out.getvalue().encode())


def apply_csv(conn: psycopg.Connection, dataset: str, path: Path, work: Path) -> None:
    """Apply an export file with the real load, like apply_rows."""
    _apply(conn, dataset, parse_file_ts(path.name), path.read_bytes())


def _apply(conn: psycopg.Connection, dataset: str, file_ts: datetime, data: bytes) -> None:
    name = file_name_for(file_ts)
    change = ChangeFile(get_dataset(dataset).changes_key(name), name, file_ts, "test-etag", len(data))
    apply_change_file(conn, get_dataset(dataset), change, lambda: [data])


# -- a stream where teams change before (and sometimes after) closure -------------------------

TEAMS = ("FS Nairobi West", "FS Nairobi East", "OSP Fibre Crew", "FS Coast Mombasa", "NOC L2")
PEOPLE = ("Brian Otieno", "Faith Wanjiku", "Kevin Mwangi", "Mercy Achieng", "Service Desk")
VERDICTS = ("Within SLA", "Within SLA ", "WITHIN SLA", "Breached", "BREACHED", "Met by vendor", None)


def team_stream(seed: int, tickets: int, files: int, start: datetime) -> list[tuple[datetime, list[dict]]]:
    """Change files [(file_ts, rows)] where open INC tickets are re-routed between teams and
    owners, lose their team, close (some close straight away, some are re-routed after closing,
    some reopen and close again). Each row is the ticket's full current state."""
    rng = random.Random(seed)
    state: dict[str, dict] = {}
    out = []
    for k in range(files):
        file_ts = start + timedelta(hours=7 * k)
        changed: dict[str, dict] = {}
        # new tickets
        for _ in range(tickets // files + (1 if k == 0 else 0)):
            tid = f"INC{len(state) + 1:012d}"
            created = file_ts - timedelta(hours=rng.uniform(1, 30))
            row = raw_row(tid, bucket="pending", raw_status="NEW", created_at_service=created,
                          first_seen_at=file_ts, assigned_team=rng.choice(TEAMS + (None,)),
                          owner=rng.choice(PEOPLE + (None,)))
            if rng.random() < 0.15:  # first seen already closed
                row.update(bucket="closed", raw_status="CLOSED", closed_at=eat_text(file_ts - timedelta(hours=1)),
                           sla_status=rng.choice(VERDICTS), mttr=f"{rng.uniform(0.5, 60):.2f}")
            state[tid] = changed[tid] = row
        # moves of existing tickets
        for tid in rng.sample(sorted(state), k=min(len(state), tickets // 3)):
            if tid in changed:
                continue
            row = dict(state[tid])
            x = rng.random()
            if row["bucket"] == "pending":
                if x < 0.45:  # re-routed
                    row.update(assigned_team=rng.choice(TEAMS + (None,)), owner=rng.choice(PEOPLE),
                               raw_status="ASSIGNED")
                else:  # closes, sometimes changing team in the same file
                    if rng.random() < 0.3:
                        row["assigned_team"] = rng.choice(TEAMS + (None,))
                    row.update(bucket="closed", raw_status="RESOLVED",
                               closed_at=eat_text(file_ts - timedelta(hours=rng.uniform(0, 6))),
                               sla_status=rng.choice(VERDICTS), mttr=f"{rng.uniform(0.5, 60):.2f}")
            elif x < 0.5:  # closed ticket re-routed (credit must stay with the closer)
                row.update(assigned_team=rng.choice(TEAMS + (None,)), owner=rng.choice(PEOPLE))
            elif x < 0.7:  # reopened
                row.update(bucket="pending", raw_status="IN PROGRESS", closed_at=None, sla_status=None,
                           mttr=None, assigned_team=rng.choice(TEAMS))
            else:
                continue
            state[tid] = changed[tid] = row
        out.append((file_ts, list(changed.values())))
    return out


def expected_closures(stream: list[tuple[datetime, list[dict]]]) -> dict[str, dict]:
    """Oracle: for each ticket closed at the end, the team at its last entry into closed."""
    current: dict[str, dict] = {}
    closer: dict[str, dict] = {}
    for _file_ts, rows in stream:
        for row in rows:
            before = current.get(row["ticket_id"])
            if row["bucket"] == "closed" and (before is None or before["bucket"] != "closed"):
                closer[row["ticket_id"]] = row
            current[row["ticket_id"]] = row
    result = {}
    for tid, row in current.items():
        if row["bucket"] != "closed":
            continue
        at_close = closer[tid]
        team = at_close["assigned_team"] or at_close["owner"]
        closed_at = datetime.strptime(row["closed_at"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=EAT)
        result[tid] = {"team": team, "closed_on": closed_at.date(), "sla_status": row["sla_status"],
                       "mttr": row["mttr"]}
    return result
