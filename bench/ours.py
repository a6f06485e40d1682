"""Our side: one `fleettickets` command (or the trivial reference flow), timed end to end,
with its peak RSS and its per-step figures read back from the Prefect server."""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.procs import VENV_BIN, log, run_measured, run_quiet, tail_reason
from bench.stack import Stack, checkpoint, query_one
from bench.steps import Steps, read_steps

TRIVIAL_FLOW = Path(__file__).resolve().parent / "trivial_flow.py"


@dataclass
class Run:
    label: str
    command: str
    seconds: float | None = None
    peak_rss_mb: float | None = None
    returncode: int | None = None
    tickets: int | None = None
    expected: int | None = None
    error: str | None = None
    steps: Steps = field(default_factory=Steps)

    @property
    def ok(self) -> bool:
        return self.error is None and self.seconds is not None


def timed(stack: Stack, env: dict[str, str], label: str, cmd: list[str]) -> Run:
    """Run `cmd` on the clock (after a CHECKPOINT of the run's database); steps from Prefect."""
    checkpoint(env["DATABASE_URL"])
    command = " ".join([Path(cmd[0]).name, *cmd[1:]])
    log(f"timing: {label}: {command} ...")
    log_path = stack.logs / f"{label.replace(' ', '-')}.log"
    since = datetime.now(UTC)
    measured = run_measured(cmd, env, log_path)
    run = Run(label, command, measured.seconds, measured.peak_rss_mb, measured.returncode)
    run.steps = read_steps(stack.prefect_api, since)
    if measured.returncode != 0:
        died = stack.dead_servers()
        run.error = f"exit code {measured.returncode}: {tail_reason(log_path)} (see {log_path})" + (
            f"; {died}" if died else "")
    return run


def ingest(stack: Stack, env: dict[str, str], label: str, *flags: str, expected: int | None = None) -> Run:
    """`fleettickets ingest inc [flags]`; with `expected`, the table must then hold that many tickets."""
    run = timed(stack, env, label, [str(VENV_BIN / "fleettickets"), "ingest", "inc", *flags])
    if expected is not None:
        run.expected = expected
        run.tickets = query_one(env["DATABASE_URL"], "SELECT count(*) FROM tickets.inc")
        if run.error is None and run.tickets != expected:
            run.error = f"tickets.inc holds {run.tickets} tickets, expected {expected}"
    return run


def geocode(stack: Stack, env: dict[str, str], label: str) -> Run:
    return timed(stack, env, label, [str(VENV_BIN / "fleettickets"), "geocode"])


def trivial_flow(stack: Stack, env: dict[str, str], label: str) -> Run:
    return timed(stack, env, label, [sys.executable, str(TRIVIAL_FLOW)])


def warm_up(env: dict[str, str]) -> None:
    """A deployed worker has compiled bytecode and a warm Prefect server: one ingest of the
    (empty) CRQ stream and one trivial flow before the clock fill the bytecode cache."""
    for cmd in ([str(VENV_BIN / "fleettickets"), "ingest", "crq"], [sys.executable, str(TRIVIAL_FLOW)]):
        done = run_quiet(cmd, env)
        if done.returncode != 0:
            log(f"warning: warm-up `{' '.join(cmd)}` exited {done.returncode}: {done.stdout.strip()[-300:]}")


def median(runs: list[Run]) -> Run:
    """The run of median wall time (an odd count: the middle one; even: the slower middle)."""
    good = [r for r in runs if r.ok]
    if len(good) < len(runs):
        return next(r for r in runs if not r.ok)
    middle = statistics.median_high([r.seconds or 0.0 for r in good])
    return next(r for r in good if r.seconds == middle)
