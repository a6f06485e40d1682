"""The baseline file: every current ticket, ids ascending, created over the ~10 days before it."""

from __future__ import annotations

from fleettickets.sample.files import Emit
from fleettickets.sample.rows import NO_CLOSURE, StaticSource, closure_columns, ticket_row
from fleettickets.sample.state import TicketState
from fleettickets.sample.text import DAY, HOUR, below
from fleettickets.sample.tickets import Static

LAG = 2 * DAY  # content lags the export (a daily spreadsheet)
SPAN = 8 * DAY  # creation times of a baseline: ~10..2 days before the file time


def _closed(state: TicketState, i: int, st: Static, tc: int, content: int) -> tuple[int, tuple[str, str, str]]:
    """A ticket closed before the export: its updated_at and closure columns."""
    rng = state.rng
    state.open_state(i, st.region, 2)
    state.close(i, st.region)
    if rng.random() < 0.18:
        state.team[i] = -1
    closed_at = min(content - 60, tc + 1800 + int(rng.expovariate(1 / (26 * HOUR))))
    closed_at = max(closed_at, tc)
    closure = closure_columns(rng, tc, closed_at)
    updated = content - below(rng, min(content - closed_at, 20 * HOUR))
    return updated, closure


def _open(state: TicketState, i: int, st: Static, age: int, content: int) -> int:
    """A ticket still open at the export, at a random stage: its updated_at."""
    rng = state.rng
    x = rng.random()
    stage = 0 if x < 0.5 else 1 if x < 0.72 else 2 if x < 0.92 else 3
    state.open_state(i, st.region, stage)
    updated = content - below(rng, min(age, 20 * HOUR))
    state.pool_of(i).append(i)
    return updated


def write_baseline(
    state: TicketState, statics: StaticSource, emit: Emit, rows: int, file_time: int, ctx: tuple[str, ...]
) -> None:
    """`rows` tickets, about a third of them alarms; older ones are more often closed."""
    rng = state.rng
    content = file_time - LAG
    for n in range(rows):
        alarm = rng.random() < 1 / 3
        tc = content - SPAN + SPAN * n // rows + below(rng, 3600) - 1800
        tc = min(tc, content - 60)
        age = content - tc
        closed = rng.random() < 0.15 + 0.6 * min(1.0, age / (6 * DAY))
        first_seen = min(file_time, tc + LAG + below(rng, HOUR))
        i = state.new_ticket(first_seen, alarm, closed)
        state.created[i] = tc
        st = statics.of(i, regenerable=not closed)  # closed: never seen again
        if closed:
            updated, closure = _closed(state, i, st, tc, content)
        else:
            updated, closure = _open(state, i, st, age, content), NO_CLOSURE
        emit(ticket_row(state, i, st, updated, closure, ctx))
