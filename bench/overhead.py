"""The per-run overhead workloads of `make bench` alone, beside a running bench: a run with
nothing to do on the placed 10x table against the one-task flow, and the scheduled run (one
small delta, geocoding on) at 1x and at 10x history; plus the Prefect API calls per run.

    .venv/bin/python -m bench.overhead --setup      # load and place 1x and 10x once (~5 min)
    .venv/bin/python -m bench.overhead [--repeat 3] [--only idle|scheduled] [--tasks 0 10] [--count]

`--setup` loads both streams with `ingest inc --no-geocode`, places them with `fleettickets
geocode` and keeps each as a template database; every later run starts from copies of the
templates, so the scheduled deltas can be applied again. Databases are
`$FLEETTICKETS_BENCH_DB_PREFIX_*` (default `fleettickets_ovh`), never the bench's own. The code
timed is this worktree's (PYTHONPATH). `--tasks N ...` also times the trivial flow with N
tasks (the per-task-run cost). Counted runs (API calls) are extra runs, off the clock.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("FLEETTICKETS_BENCH_DB_PREFIX", "fleettickets_ovh")

from bench import ours  # noqa: E402  (the prefix above must be set first)
from bench.main import python_env  # noqa: E402
from bench.procs import REPO, VENV_BIN, log, run_quiet  # noqa: E402
from bench.report import render_steps  # noqa: E402
from bench.stack import ADMIN_DSN, DB_PREFIX, Stack, dsn_for, query_one  # noqa: E402
from bench.streams import Sizes, generate, stream_specs  # noqa: E402

WORKDIR = REPO / "bench" / "out" / "overhead"
STATES = ("10x", "1x")
COUNTER = REPO / "bench" / "apicount"
SMALL_DELTAS = Sizes().repeat  # the streams' small deltas (the bench's own files)


def _copy_database(source: str, target: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        conn.execute('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s', (source,))
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')


def _env(stack: Stack, state: str) -> dict[str, str]:
    env = stack.ours_env(dsn_for(f"{DB_PREFIX}_{state}"), f"ovh-{state}")
    env["PYTHONPATH"] = str(REPO)  # this worktree's code, not the venv's editable install
    return env


def setup(stack: Stack, streams: dict) -> None:
    for state in STATES:
        stack.database(state)
        stack.make_bucket(f"ovh-{state}")
        paths = streams[state].paths[: 1 + Sizes().deltas]
        stack.upload(f"ovh-{state}", paths)
        env = _env(stack, state)
        expected = streams[state].expected(len(paths))
        for run in (ours.ingest(stack, env, f"{state} load", "--no-geocode", expected=expected),
                    ours.geocode(stack, env, f"{state} placement")):
            log(f"{run.label}: {run.seconds}s {run.error or ''}")
        query_one(env["DATABASE_URL"], "VACUUM ANALYZE")  # as autovacuum would, before the template is kept
        _copy_database(f"{DB_PREFIX}_{state}", f"{DB_PREFIX}_{state}_placed")


def counted(stack: Stack, env: dict[str, str], label: str, cmd: list[str]) -> dict[str, int]:
    """One extra run with the API counter on: calls by method and path, and events."""
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as out:
        env = {**env, "FLEETTICKETS_BENCH_APICOUNT": out.name,
               "PYTHONPATH": f"{COUNTER}{os.pathsep}{env.get('PYTHONPATH', REPO)}"}
        done = run_quiet(cmd, env)
        counts: dict[str, int] = {}
        for line in Path(out.name).read_text().splitlines():
            for k, v in json.loads(line).items():
                counts[k] = counts.get(k, 0) + v
    log(f"{label}: exit {done.returncode}; {sum(v for k, v in counts.items() if not k.startswith('event'))}"
        f" HTTP calls, {sum(v for k, v in counts.items() if k.startswith('event'))} events")
    return counts


def _idle(stack: Stack, env: dict, args: argparse.Namespace, series: dict) -> list:
    pairs = [(ours.ingest(stack, env["10x"], f"idle {k + 1}"),
              ours.trivial_flow(stack, env["10x"], f"trivial {k + 1}")) for k in range(args.repeat)]
    for n in args.tasks:
        tenv = {**env["10x"], "FLEETTICKETS_BENCH_TASKS": str(n)}
        series[f"trivial, {n} tasks"] = [ours.trivial_flow(stack, tenv, f"trivial {n} tasks {k + 1}").seconds
                                         for k in range(args.repeat)]
    series["nothing to do"] = [p[0].seconds for p in pairs]
    series["one-task flow"] = [p[1].seconds for p in pairs]
    return [ours.median([p[0] for p in pairs]), ours.median([p[1] for p in pairs])]


def _scheduled(stack: Stack, env: dict, streams: dict, args: argparse.Namespace, series: dict) -> list:
    sched: dict[str, list] = {s: [] for s in STATES}
    for k in range(min(args.repeat, SMALL_DELTAS)):
        for state in ("1x", "10x"):
            files = 1 + Sizes().deltas + k + 1
            stack.upload(f"ovh-{state}", streams[state].paths[files - 1: files])
            sched[state].append(ours.ingest(stack, env[state], f"scheduled {state} {k + 1}",
                                            expected=streams[state].expected(files)))
    for state in STATES:
        series[f"scheduled {state}"] = [r.seconds for r in sched[state]]
    return [ours.median(sched[s]) for s in STATES]


def _count(stack: Stack, env: dict, streams: dict) -> dict[str, dict[str, int]]:
    cli = [str(VENV_BIN / "fleettickets"), "ingest", "inc"]
    calls = {"idle": counted(stack, env["10x"], "idle", cli),
             "trivial": counted(stack, env["10x"], "trivial", [sys.executable, str(ours.TRIVIAL_FLOW)])}
    for state in ("1x", "10x"):
        stack.upload(f"ovh-{state}", streams[state].paths[1 + Sizes().deltas: 2 + Sizes().deltas])
        calls[f"scheduled {state}"] = counted(stack, env[state], f"scheduled {state}", cli)
    return calls


def run(stack: Stack, streams: dict, args: argparse.Namespace) -> None:
    for state in STATES:
        _copy_database(f"{DB_PREFIX}_{state}_placed", f"{DB_PREFIX}_{state}")
        stack.make_bucket(f"ovh-{state}")
    env = {s: _env(stack, s) for s in STATES}
    ours.warm_up(env["1x"])
    if args.serve:  # the stack and fresh copies, for commands run by hand
        Path(args.serve).write_text("".join(f"export {k}='{v}'\n" for k, v in env["10x"].items()
                                            if k not in os.environ or os.environ[k] != v))
        log(f"environment of the 10x database written to {args.serve}; SIGINT or SIGTERM to stop")
        signal.signal(signal.SIGTERM, _stop)  # a background job ignores SIGINT
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            signal.pause()
        return
    if args.count:
        for name, counts in _count(stack, env, streams).items():
            print(f"API calls, {name}: " + ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())))
        return
    runs: list = []
    series: dict[str, list] = {}
    if args.only in (None, "idle"):
        runs += _idle(stack, env, args, series)
    if args.only in (None, "scheduled"):
        runs += _scheduled(stack, env, streams, args, series)
    print(render_steps(runs))
    for name, xs in series.items():
        print(f"{name}: median {statistics.median(xs):.2f} s of " + ", ".join(f"{x:.2f}" for x in xs))
    for r in runs:
        if not r.ok:
            print(f"FAILED {r.label}: {r.error}")


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--setup", action="store_true", help="load and place 1x and 10x, keep them as templates")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("idle", "scheduled"))
    parser.add_argument("--serve", metavar="ENV_FILE", help="keep the stack up; write the 10x environment here")
    parser.add_argument("--count", action="store_true", help="count API calls per run (off the clock) instead")
    parser.add_argument("--tasks", type=int, nargs="*", default=[], help="also time the trivial flow with N tasks")
    args = parser.parse_args(argv)
    (WORKDIR / "logs").mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="fleettickets-ovh-") as tmp:
        servers = Stack(WORKDIR / "logs", Path(tmp), python_env(WORKDIR, warm=True))
        os.environ.update(PREFECT_HOME=servers.prefect_env["PREFECT_HOME"], PREFECT_API_URL=servers.prefect_api)
        servers.start(stack)
        specs = stream_specs(Sizes())
        streams = {s: generate(REPO / "bench" / "out", specs[s]) for s in STATES}
        servers.wait()
        if args.setup:
            setup(servers, streams)
        else:
            run(servers, streams, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
