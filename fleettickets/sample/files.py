"""The quirks of each file of a stream (BOM, sentinel, line endings, column order,
duplicates) and the CSV writer that applies them."""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from fleettickets.datasets import CONTRACT_COLUMNS, SENTINEL_PREFIX

SENTINEL = f"{SENTINEL_PREFIX} - please narrow the filter"

Emit = Callable[[list[str]], object]  # takes a row in contract order


class FilePlan(NamedTuple):
    bom: bool
    sentinel: bool
    lineterminator: str
    order: tuple[int, ...] | None  # column permutation, None = contract order
    duplicates: bool


def _shuffled_order(q: random.Random) -> tuple[int, ...]:
    perm = list(range(len(CONTRACT_COLUMNS)))
    while perm == sorted(perm):
        q.shuffle(perm)
    return tuple(perm)


def plan_files(q: random.Random, deltas: int) -> list[FilePlan]:
    """Per-file quirks; the baseline has a BOM, the sentinel and CRLF line endings."""
    bom = [q.random() < 0.25 for _ in range(deltas)]
    sentinel = [q.random() < 0.5 for _ in range(deltas)]
    crlf = [q.random() < 0.5 for _ in range(deltas)]
    shuffled = [q.random() < 0.2 for _ in range(deltas)]
    dups = [q.random() < 0.4 for _ in range(deltas)]
    if deltas:
        crlf[q.randrange(deltas)] = False  # at least one '\n' file
        shuffled[q.randrange(deltas)] = True
        dups[q.randrange(deltas)] = True
    if deltas >= 2 and len(set(sentinel)) == 1:  # about half: at least one of each
        sentinel[q.randrange(deltas)] = not sentinel[0]
    plans = [FilePlan(True, True, "\r\n", None, False)]
    for i in range(deltas):
        order = _shuffled_order(q) if shuffled[i] else None
        plans.append(FilePlan(bom[i], sentinel[i], "\r\n" if crlf[i] else "\n", order, dups[i]))
    return plans


def _emitter(writerow: Callable[[list[str]], object], order: tuple[int, ...] | None) -> Emit:
    """Write rows given in contract order, permuted to the file's column order."""
    if order is None:
        return writerow

    def emit(row: list[str]) -> None:
        writerow([row[j] for j in order])

    return emit


@contextmanager
def open_change_file(path: Path, plan: FilePlan) -> Iterator[Emit]:
    """The file opened with its quirks, its header (and the sentinel) written; yields `emit`."""
    encoding = "utf-8-sig" if plan.bom else "utf-8"
    with path.open("w", encoding=encoding, newline="", buffering=1 << 20) as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator=plan.lineterminator)
        emit = _emitter(writer.writerow, plan.order)
        emit(list(CONTRACT_COLUMNS))
        if plan.sentinel:
            emit([SENTINEL] + [""] * (len(CONTRACT_COLUMNS) - 1))
        yield emit
