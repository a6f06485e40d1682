"""One CSV row of a ticket, in the contract's column order, from its state and its seed."""

from __future__ import annotations

import random
from datetime import timedelta

from fleettickets.datasets import DATASETS
from fleettickets.sample.state import CLOSED, TicketState
from fleettickets.sample.text import EPOCH, HOUR, below, pick, source_ts, ts
from fleettickets.sample.tickets import Static, static_columns
from fleettickets.sample.vocabulary import BREACHED, CLOSED_STATUS, OPEN_STATUS, OWNERS, TEAMS, WITHIN

S3_BUCKET = "isptickets"  # the exporter's bucket, as its rows name it (source_s3_bucket)
NO_CLOSURE = ("", "", "")  # closed_at, sla_status, mttr of an open ticket


class StaticSource:
    """A ticket's static columns: regenerated from its own seed whenever it appears again."""

    def __init__(self, state: TicketState, seed: int) -> None:
        self.state = state
        self.row_rng = random.Random()
        self.row_base = (abs(seed) * 8 + state.spec.salt) << 40

    def of(self, i: int, regenerable: bool = True) -> Static:
        """`regenerable` False: drawn from the stream's own generator (the ticket is never seen again)."""
        state = self.state
        r = self.row_rng if regenerable else state.rng
        if regenerable:
            r.seed(self.row_base + i)
        return static_columns(r, state.spec, state.flags[i], state.created[i])


def closure_columns(rng: random.Random, tc: int, closed: int) -> tuple[str, str, str]:
    """closed_at, sla_status and mttr (hours) of a ticket created at `tc`, closed at `closed`."""
    hours = max(0.25, round((closed - tc) / HOUR * (0.35 + 0.65 * rng.random()) * 4) / 4)
    within = 0.95 if hours <= 24 else 0.7 if hours <= 48 else 0.12
    sla = pick(rng, WITHIN if rng.random() < within else BREACHED)
    return source_ts(rng, closed), sla, f"{hours:.2f}"


def file_context(dataset: str, file_time: int, name: str) -> tuple[str, ...]:
    """The row's last columns, from last_seen_at on: the same for every row of one file."""
    day = EPOCH + timedelta(seconds=file_time)
    monday = (day - timedelta(days=day.weekday())).date()
    stamp = name[:-4].replace("-", "")
    return (
        ts(file_time), "", "", monday.isoformat(), (monday + timedelta(days=6)).isoformat(),
        S3_BUCKET, DATASETS[dataset].changes_key(name), f"{dataset}-{stamp}",
    )


def ticket_row(
    state: TicketState, i: int, st: Static, updated: int, closure: tuple[str, str, str], ctx: tuple[str, ...]
) -> list[str]:
    """The ticket's full current state as one row (the export always carries all of it)."""
    rng = state.rng
    stage, team, owner = state.stage[i], state.team[i], state.owner[i]
    if stage == CLOSED:
        bucket, status = "closed", pick(rng, CLOSED_STATUS)
    else:
        bucket, status = "pending", pick(rng, OPEN_STATUS[stage])
    first_seen = ts(state.first_seen[i])
    updated_text = ts(updated)
    if rng.random() < 0.02:
        updated_text += f".{below(rng, 1_000_000):06d}"
    source_type, department, service_type = state.spec.constants
    return [
        f"{state.spec.prefix}{state.numbers[i]:012d}", source_type, department, service_type,
        st.is_alarm, st.is_actionable, bucket, status, st.region_text, st.cluster, st.location,
        st.customer_id, st.summary, st.category, st.priority, TEAMS[team] if team >= 0 else "",
        OWNERS[owner] if owner >= 0 else "", st.created_at_service, *closure, first_seen, updated_text,
        first_seen, *ctx,
    ]
