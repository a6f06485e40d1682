"""A delta file: new tickets, progressions and closures; a few tickets twice (the later is newer).

A delta is planned first (which ticket, what happens to it), then written with updated_at
ascending in file order inside the file's content window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fleettickets.sample.baseline import LAG
from fleettickets.sample.files import Emit
from fleettickets.sample.rows import NO_CLOSURE, StaticSource, closure_columns, ticket_row
from fleettickets.sample.state import TicketState
from fleettickets.sample.text import HOUR, below


@dataclass
class _Plan:
    """The tickets of one delta in file order, and per ticket its moves (first move first)."""

    order: list[int] = field(default_factory=list)
    moves: dict[int, list[str]] = field(default_factory=dict)  # "new" | "prog" | "close"

    def add(self, i: int, move: str) -> None:
        self.order.append(i)
        self.moves.setdefault(i, []).append(move)


def _born(state: TicketState, file_time: int, alarm: bool) -> int:
    i = state.new_ticket(file_time, alarm, closed=False)
    state.pool_of(i).append(i)
    return i


def _one_move(state: TicketState, used: set[int], file_time: int) -> tuple[int, str]:
    """~2% alarms (half of them closing), ~30% new tickets, the rest moves of open ones."""
    rng = state.rng
    x = rng.random()
    i, move = None, "new"
    if x < 0.02:
        if rng.random() < 0.5:
            i, move = state.take(state.alarm_pool, used, remove=True), "close"
        if i is None:
            i, move = _born(state, file_time, alarm=True), "new"
    elif x < 0.32:
        i = _born(state, file_time, alarm=False)
    else:
        move = "prog" if x < 0.77 else "close"
        i = state.take(state.open_pool, used, remove=move == "close")
        if i is None:
            i, move = _born(state, file_time, alarm=False), "new"
    return i, move


def _plan(state: TicketState, n_rows: int, duplicates: bool, file_time: int) -> _Plan:
    rng = state.rng
    n_dup = 0
    if duplicates and n_rows >= 2:
        n_dup = rng.randint(1, max(1, min(n_rows // 2, n_rows // 60 + 1)))
    plan = _Plan()
    used: set[int] = set()
    for _ in range(n_rows - n_dup):
        i, move = _one_move(state, used, file_time)
        used.add(i)
        plan.add(i, move)
    candidates = [i for i in plan.order if plan.moves[i][0] != "close"]
    for i in rng.sample(candidates, min(n_dup, len(candidates))):  # a second row, later in time
        second = "close" if rng.random() < 0.4 else "prog"
        if second == "close":
            state.remove_from_pool(i)
        plan.add(i, second)
    while len(plan.order) < n_rows:  # too few tickets to repeat: fill with new ones
        plan.add(_born(state, file_time, alarm=False), "new")
    rng.shuffle(plan.order)
    return plan


def _write_move(
    state: TicketState, statics: StaticSource, emit: Emit, i: int, move: str, updated: int, ctx: tuple[str, ...]
) -> None:
    rng = state.rng
    closure = NO_CLOSURE
    if move == "new":
        state.created[i] = updated - 60 - below(rng, 3 * HOUR - 60)
        st = statics.of(i)
        state.open_state(i, st.region, 0 if rng.random() < 0.7 else 1)
    else:
        st = statics.of(i)
        if move == "prog":
            state.progress(i, st.region)
        else:
            state.close(i, st.region)
            closed_at = max(state.created[i], updated - 1 - below(rng, 600))
            closure = closure_columns(rng, state.created[i], closed_at)
    emit(ticket_row(state, i, st, updated, closure, ctx))


def write_delta(
    state: TicketState, statics: StaticSource, emit: Emit, n_rows: int, duplicates: bool,
    file_time: int, interval: int, ctx: tuple[str, ...],
) -> None:
    """`n_rows` rows, each with the ticket's full current state."""
    rng = state.rng
    plan = _plan(state, n_rows, duplicates, file_time)
    # updated_at inside this file's content window, ascending in file order
    high = file_time - LAG
    low = high - interval
    times = sorted(rng.randrange(low + 1, high + 1) for _ in plan.order)
    for i, updated in zip(plan.order, times, strict=True):
        _write_move(state, statics, emit, i, plan.moves[i].pop(0), updated, ctx)
