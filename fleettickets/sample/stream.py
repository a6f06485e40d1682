"""`write_stream`: a baseline, then delta files, into a folder, named like the exporter's keys."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from fleettickets.datasets import EAT, file_name_for
from fleettickets.sample.baseline import write_baseline
from fleettickets.sample.delta import write_delta
from fleettickets.sample.files import open_change_file, plan_files
from fleettickets.sample.rows import StaticSource, file_context
from fleettickets.sample.state import TicketState
from fleettickets.sample.text import EPOCH
from fleettickets.sample.tickets import SPECS

DEFAULT_START = datetime(2026, 6, 15, 6, 0, tzinfo=EAT)


def _delta_sizes(rows: int, deltas: int, delta_rows: int | Sequence[int] | None) -> list[int]:
    """Rows per delta file; checks the arguments."""
    if delta_rows is None:
        delta_rows = max(10, round(rows * 0.02))
    sizes = [delta_rows] * max(deltas, 0) if isinstance(delta_rows, int) else list(delta_rows)
    if rows < 0 or deltas < 0 or any(n < 0 for n in sizes):
        raise ValueError("rows, deltas and delta_rows must not be negative")
    if len(sizes) != deltas:
        raise ValueError(f"delta_rows gives {len(sizes)} sizes for {deltas} deltas")
    return sizes


def write_stream(
    dataset: str,
    out_dir: Path,
    rows: int = 31434,
    deltas: int = 3,
    seed: int = 7,
    delta_rows: int | Sequence[int] | None = None,
    start: datetime = DEFAULT_START,
    interval: timedelta = timedelta(minutes=20),
) -> list[Path]:
    """Write baseline + `deltas` delta files into out_dir (created if missing); return paths in stream order.

    File i is named file_name_for(start + i*interval). The baseline holds `rows` tickets (plus
    the sentinel row); each delta `delta_rows` rows (default ~2% of `rows`, at least 10; or a
    size per delta): new tickets, progressions and closures, each with the ticket's full
    current state. Same arguments, byte-identical files.
    """
    spec = SPECS.get(dataset)
    if spec is None:
        raise ValueError(f"unknown dataset {dataset!r}; expected 'inc' or 'crq'")
    sizes = _delta_sizes(rows, deltas, delta_rows)
    if interval < timedelta(seconds=1):
        raise ValueError("interval must be at least one second")
    start = start.replace(tzinfo=EAT) if start.tzinfo is None else start.astimezone(EAT)
    t0 = int((start.replace(tzinfo=None) - EPOCH).total_seconds())  # naive EAT seconds
    step = int(interval.total_seconds())
    state = TicketState(spec, seed)
    statics = StaticSource(state, seed)
    plans = plan_files(random.Random(seed * 8 + spec.salt + 4), deltas)

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for k, plan in enumerate(plans):
        name = file_name_for(start + k * interval)
        ctx = file_context(dataset, t0 + k * step, name)
        with open_change_file(Path(out_dir) / name, plan) as emit:
            if k == 0:
                write_baseline(state, statics, emit, rows, t0, ctx)
            else:
                write_delta(state, statics, emit, sizes[k - 1], plan.duplicates, t0 + k * step, step, ctx)
        paths.append(Path(out_dir) / name)
    return paths
