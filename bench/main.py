"""Benchmark of issue 10's targets: every workload against its reference, in one run.

One run does everything: generate (or reuse) the streams, start its own moto S3 server and
Prefect server, create its own databases, run the workloads (bench/workloads.py), print one
table of targets, the per-step figures and the checks, and write <workdir>/results.json.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import workloads
from bench.procs import REPO
from bench.report import Row, render_steps, render_table, write_results
from bench.stack import Stack
from bench.streams import QUICK, Sizes, generate, stream_specs
from bench.targets import target_rows
from bench.workloads import Bench

DEFAULT_WORKDIR = REPO / "bench" / "out"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true",
                        help=f"small sizes, to see the script work end to end ({QUICK})")
    for name, help_text in (("rows", "the 10x baseline's rows (1x: a tenth)"),
                            ("deltas", "big deltas after each baseline"),
                            ("delta-rows", "rows per big delta at 10x (1x: a tenth)"),
                            ("small-rows", "rows of a scheduled run's delta and of each backlog delta"),
                            ("backlog-deltas", "small deltas after the backlog's 1x baseline"),
                            ("repeat", "scheduled runs per scale and nothing-to-do pairs (median kept)"),
                            ("seed", "generator seed (same seed, same bytes)")):
        parser.add_argument(f"--{name}", type=int, default=None, help=help_text)
    parser.add_argument("--skip-dlt", action="store_true", help="do not run the dlt comparison")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help="generated files, logs and results.json (default bench/out/)")
    parser.add_argument("--cold", action="store_true",
                        help="no bytecode cache and no warm-up runs (what a fresh container pays)")
    return parser.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> Sizes:
    """--quick's sizes or the full ones, with any size given on the command line on top."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Sizes) if getattr(args, f.name) is not None}
    return dataclasses.replace(QUICK if args.quick else Sizes(), **given)


def python_env(workdir: Path, warm: bool) -> dict[str, str]:
    """Environment for the Python processes we time.

    This machine may set PYTHONDONTWRITEBYTECODE, and then every cold process compiles all it
    imports (~6 s for Prefect). Warm mode keeps bytecode in workdir/pycache
    (PYTHONPYCACHEPREFIX): nothing is written into .venv.
    """
    env = dict(os.environ)
    if warm:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


def _raise_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally`s that stop our servers


def start(stack: contextlib.ExitStack, args: argparse.Namespace, workdir: Path) -> Bench:
    """Servers boot in the background while the streams are generated and counted."""
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fleettickets-bench-")))
    warm, sizes = not args.cold, sizes_from(args)
    servers = Stack(workdir / "logs", tmp, python_env(workdir, warm))
    # Should this process import Prefect (through a library module), it stays out of ~/.prefect.
    os.environ.update(PREFECT_HOME=servers.prefect_env["PREFECT_HOME"], PREFECT_API_URL=servers.prefect_api)
    servers.start(stack)
    streams = {name: generate(workdir, spec) for name, spec in stream_specs(sizes).items()}
    bench = Bench(servers, streams, sizes, tmp, warm, args.skip_dlt, args.quick)
    workloads.databases(bench)
    servers.wait()
    workloads.buckets_and_warm_up(bench)
    return bench


def report(bench: Bench, rows: list[Row], workdir: Path, load_before: float) -> None:
    sizes = bench.sizes
    print(f"\nfleettickets bench ({'quick' if bench.quick else 'full'}): 10x = {sizes.rows}-row baseline + "
          f"{sizes.deltas} x {sizes.delta_rows}; 1x = a tenth; small delta {sizes.small_rows} rows; "
          f"backlog {sizes.backlog_deltas} small deltas; median of {sizes.repeat}\n")
    print(render_table(rows))
    runs = list(bench.runs.values())
    loads = [r for r in runs if r.label.endswith("load")]
    print("\nper step, seconds (task runs), from the Prefect API; loads:\n" + render_steps(loads))
    print("\nper step, the other runs:\n" + render_steps([r for r in runs if r not in loads]))
    extra: dict[str, Any] = {
        "mode": "warm (bytecode cache + untimed warm-up runs)" if bench.warm else "cold (no bytecode cache)",
        # Another job on this machine skews the figures: the load average says if one ran.
        "load average (1 min) before/after": f"{load_before:.2f} / {os.getloadavg()[0]:.2f}",
        **bench.checks,
        **{f"{name}, every run (s)": ", ".join(f"{x:.2f}" if x is not None else "-" for x in xs)
           for name, xs in bench.series.items()},
        **{f"{name}: expected tickets after its files": s.tickets_after[-1] for name, s in bench.streams.items()},
    }
    print("\n" + "\n".join(f"{k}: {v}" for k, v in extra.items()))
    params = {**dataclasses.asdict(sizes), "quick": bench.quick, "warm": bench.warm, "cpus": os.cpu_count()}
    write_results(workdir / "results.json", params, rows, runs,
                  {**extra, "dlt": dataclasses.asdict(bench.dlt) if bench.dlt else None,
                   "floors": {k: dataclasses.asdict(v) for k, v in bench.floors.items()}})
    print(f"\nresults written to {workdir / 'results.json'}; logs in {workdir / 'logs'}", flush=True)


def measure(bench: Bench) -> list[Row]:
    """The workloads in order (see bench/workloads.py); the rows of the target table."""
    workloads.stream_10x(bench)
    workloads.geocoding_10x(bench)
    workloads.stream_1x(bench)
    idle = workloads.nothing_to_do(bench)
    scheduled = workloads.scheduled(bench)
    workloads.backlog(bench)
    return target_rows(bench, idle, scheduled)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_on_signal)
    signal.signal(signal.SIGHUP, _raise_on_signal)
    workdir: Path = args.workdir.resolve()
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        bench = start(stack, args, workdir)
        load_before = os.getloadavg()[0]
        rows = measure(bench)
        report(bench, rows, workdir, load_before)
    failed = [f"{r.label}: {r.error}" for r in bench.runs.values() if not r.ok]
    for line in failed:
        print(f"ours failed: {line}", file=sys.stderr)
    return 1 if failed else 0
