"""The Prefect server a command starts when no PREFECT_API_URL is configured, contained.

Prefect 3 starts a temporary ("ephemeral") server as a subprocess (its SubprocessASGIServer,
in prefect.server.api.server) that inherits the command's stdout/stderr and is stopped only
by an `atexit` hook. A SIGKILL never runs that hook, and a SIGTERM kills Python by default
without it: the server outlived the command and held its pipes open (`... | logger` hung).

Here the same server is started differently, before any flow runs:

- from the main thread, through a tiny launcher that sets PR_SET_PDEATHSIG (Linux) and then
  execs uvicorn: when the command dies for any reason, the kernel kills the server;
- with stdin, stdout and stderr not inherited (its output goes to
  $PREFECT_HOME/temporary-server.log), so a pipe closes when the command ends;
- in its own session, so a terminal's Ctrl-C reaches the command first, which then stops
  the server itself;
- with SIGTERM turned into SystemExit in the command, so `atexit` and Prefect's own cleanup
  run (the run is reported Crashed, then the server is stopped);
- with Prefect's telemetry off (an offline machine logged an ERROR on every run).

It is registered as the instance Prefect's internals look up (`SubprocessASGIServer()`
returns it), as prefect.testing.utilities.prefect_test_harness does. Prefect's server code
(FastAPI, SQLAlchemy, its models: seconds of imports) is imported only when this server is
needed, never by a command that talks to a configured API.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import prefect
from prefect.settings import get_current_settings

# Runs in the child before uvicorn: die with the parent (kernel-enforced), or do not start at all.
_LAUNCHER = (
    "import ctypes, os, signal, sys\n"
    "if sys.platform.startswith('linux'):\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(0)  # the command died before the line above\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])\n"
)
STARTUP_TIMEOUT_SECONDS = 90  # a first start migrates a fresh SQLite database; 2 busy cores are slow


@cache
def contained_server_class() -> type:
    """`ContainedServer`: Prefect's temporary server, launched so that it cannot outlive the command."""
    from prefect.server.api.server import SubprocessASGIServer

    class ContainedServer(SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            return _launch(self.port)

    return ContainedServer


def _launch(port: int) -> subprocess.Popen[Any]:
    home = get_current_settings().home
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        # the same as Prefect's own launch (UI off, marked ephemeral) ...
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
        **get_current_settings().to_environment_variables(exclude_unset=True),
        # ... and no telemetry: offline it fails and logs an ERROR on every run
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    with (Path(home) / "temporary-server.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(os.getpid()),
             "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent),
             "--factory", "prefect.server.api.server:create_app",
             "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "error", "--lifespan", "on"],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )


def _exit_on_sigterm(signum: int, frame: Any) -> None:  # signal handler shape
    raise SystemExit(128 + signum)


@contextmanager
def prefect_runtime(*, api_checked: bool = False) -> Iterator[str | None]:
    """Around a command that runs flows: yields the configured API URL, or None with a contained
    temporary server running (stopped at the end, or by the kernel if the command is killed).
    `api_checked`: the command has just resolved its resources strictly (the API answered)."""
    url = get_current_settings().api.url
    if url:
        if not api_checked:
            from tasks.blocks import check_api

            check_api(url)  # one clean line instead of a traceback when the server is down
        try:
            yield url
        finally:
            _drain_logs()  # now, not at exit: nothing Prefect prints may follow the command's last line
        return
    contained = contained_server_class()
    server = contained._instances.get(None)
    if not isinstance(server, contained):
        contained._instances.pop(None, None)
        server = contained()
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        server.start(timeout=STARTUP_TIMEOUT_SECONDS)
        yield None
    finally:
        try:
            _drain_logs()
        finally:
            server.stop()
            signal.signal(signal.SIGTERM, previous)


def _drain_logs() -> None:
    """Deliver buffered run logs and events before the server goes away (no shutdown errors)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)
    EventsWorker.drain_all(timeout=5)
