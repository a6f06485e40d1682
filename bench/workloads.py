"""The workloads of one bench run, in the order they run, each against its reference.

1. the 10x stream: ours (`ingest inc --no-geocode`), the floor and dlt on the same files;
2. geocoding on the 10x table (bench/geocoding.py), then the table is placed;
3. the 1x stream: ours (peak RSS at 1x), then placed;
4. a run with nothing to do on the 10x table, against a one-task flow (pairs, median);
5. the scheduled run (one small delta, geocoding on) at 1x and at 10x, alternating (median);
6. the backlog: 1x baseline + many small deltas, ours against the floor.

Each workload's state is its own database and bucket; targets are in bench/targets.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import ours
from bench.dlt_side import DltResult, run_dlt
from bench.floor import FLOOR_WITH_HISTORY, FloorResult, run_floor
from bench.geo_hook import geocoding_rows
from bench.ours import Run
from bench.procs import VENV_BIN, log
from bench.report import Row
from bench.stack import Stack, query_one, sql
from bench.streams import Sizes, Stream


@dataclass
class Bench:
    stack: Stack
    streams: dict[str, Stream]
    sizes: Sizes
    tmp: Path
    warm: bool
    skip_dlt: bool
    quick: bool
    dsn: dict[str, str] = field(default_factory=dict)  # table state -> database
    runs: dict[str, Run] = field(default_factory=dict)  # label -> run (also the per-step columns)
    floors: dict[str, FloorResult] = field(default_factory=dict)
    dlt: DltResult | None = None
    geocoding: list[Row] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    series: dict[str, list[float | None]] = field(default_factory=dict)  # every repeat's seconds

    def env(self, state: str) -> dict[str, str]:
        return self.stack.ours_env(self.dsn[state], f"bench-{state}")

    def loaded(self, state: str) -> list[Path]:
        """The files of a stream loaded before the scheduled runs (all of the backlog's)."""
        stream = self.streams[state]
        return stream.paths if state == "backlog" else stream.paths[: 1 + self.sizes.deltas]

    def keep(self, run: Run) -> Run:
        self.runs[run.label] = run
        if not run.ok:
            log(f"{run.label}: FAILED: {run.error}")
        return run


STATES = ("10x", "1x", "backlog")


def databases(bench: Bench) -> None:
    """One fresh database per table state, the floor's table in each."""
    for state in STATES:
        bench.dsn[state] = bench.stack.database(state)
    log(f"databases created and migrated: {', '.join(bench.dsn.values())}")


def buckets_and_warm_up(bench: Bench) -> None:
    """A bucket per table state (once the S3 server is up), then the untimed warm-up runs."""
    for state in STATES:
        bench.stack.make_bucket(f"bench-{state}")
    if bench.warm:
        ours.warm_up(bench.env("1x"))  # CRQ is empty in every bucket: nothing is applied


def _load(bench: Bench, state: str) -> Run:
    paths = bench.loaded(state)
    bench.stack.upload(f"bench-{state}", paths)
    expected = bench.streams[state].expected(len(paths))
    return bench.keep(ours.ingest(bench.stack, bench.env(state), f"{state} load", "--no-geocode", expected=expected))


def _floor(bench: Bench, state: str) -> None:
    paths = bench.loaded(state)
    bench.floors[state] = run_floor(paths, bench.dsn[state], bench.stack.logs / f"floor-{state}.log",
                                    bench.streams[state].expected(len(paths)))
    if bench.floors[state].ok and bench.runs[f"{state} load"].ok:
        mismatches = query_one(bench.dsn[state], sql("floor_mismatches.sql"))
        bench.checks[f"{state}: ours vs floor raw mismatches"] = mismatches


def _floor_with_history(bench: Bench) -> None:
    """The 10x files through the floor that also writes INC's observations and history."""
    paths = bench.loaded("10x")
    floor = bench.floors["10x with history"] = run_floor(
        paths, bench.dsn["10x"], bench.stack.logs / "floor-10x-with-history.log",
        bench.streams["10x"].expected(len(paths)), FLOOR_WITH_HISTORY)
    if floor.ok and bench.runs["10x load"].ok:
        bench.checks["10x: ours vs floor with history, INC history mismatches"] = query_one(
            bench.dsn["10x"], sql("floor_history_mismatches.sql"))


def stream_10x(bench: Bench) -> None:
    _load(bench, "10x")
    _floor(bench, "10x")
    _floor_with_history(bench)
    if bench.skip_dlt:
        return
    paths = bench.loaded("10x")
    bench.dlt = run_dlt(paths, bench.dsn["10x"], bench.stack.base_env, bench.stack.logs, bench.tmp, bench.warm,
                        bench.streams["10x"].expected(len(paths)))
    if bench.dlt.ok and bench.runs["10x load"].ok:
        bench.checks["10x: ours vs dlt mismatches (status, bucket, team, owner)"] = query_one(
            bench.dsn["10x"], sql("dlt_mismatches.sql"))


def geocoding_10x(bench: Bench) -> None:
    context = {"dsn": bench.dsn["10x"], "env": bench.env("10x"), "cli": VENV_BIN / "fleettickets",
               "logs": bench.stack.logs, "tickets": bench.runs["10x load"].tickets, "quick": bench.quick}
    bench.geocoding = geocoding_rows(context)
    # Off the targets: place the table, so the runs below start from a placed table.
    bench.keep(ours.geocode(bench.stack, bench.env("10x"), "10x placement"))


def stream_1x(bench: Bench) -> None:
    _load(bench, "1x")
    bench.keep(ours.geocode(bench.stack, bench.env("1x"), "1x placement"))


def _median(bench: Bench, name: str, runs: list[Run]) -> Run:
    bench.series[name] = [r.seconds for r in runs]
    return bench.keep(ours.median(runs))


def nothing_to_do(bench: Bench) -> tuple[Run, Run]:
    """`ingest inc` (geocoding on) with no new file, and the trivial flow, alternating."""
    pairs = []
    for k in range(bench.sizes.repeat):
        idle = ours.ingest(bench.stack, bench.env("10x"), f"idle {k + 1}")
        trivial = ours.trivial_flow(bench.stack, bench.env("10x"), f"trivial flow {k + 1}")
        pairs.append((idle, trivial))
    return (_median(bench, "nothing to do", [p[0] for p in pairs]),
            _median(bench, "one-task flow", [p[1] for p in pairs]))


def scheduled(bench: Bench) -> tuple[Run, Run]:
    """One small delta, then `ingest inc` with geocoding; at 1x and at 10x, alternating."""
    runs: dict[str, list[Run]] = {"1x": [], "10x": []}
    for k in range(bench.sizes.repeat):
        for state in ("1x", "10x"):
            files = 1 + bench.sizes.deltas + k + 1
            bench.stack.upload(f"bench-{state}", bench.streams[state].paths[files - 1: files])
            runs[state].append(ours.ingest(bench.stack, bench.env(state), f"scheduled {state} {k + 1}",
                                           expected=bench.streams[state].expected(files)))
    return (_median(bench, "scheduled at 1x", runs["1x"]),
            _median(bench, "scheduled at 10x", runs["10x"]))


def backlog(bench: Bench) -> Run:
    run = _load(bench, "backlog")
    _floor(bench, "backlog")
    return run
