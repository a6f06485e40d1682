"""The processes the bench starts: timed commands, helper commands and background servers.

Every process starts in its own session, so stopping it stops what it spawned (its group
id), and nothing the bench did not start is ever signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
GNU_TIME = Path("/usr/bin/time")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """Stop a process started with start_new_session=True and all it spawned (its group id).

    The leader can exit before its children (GNU time, prefect's uvicorn child), so wait for
    the whole group to be gone, then SIGKILL whatever is left.
    """
    pgid = proc.pid
    if proc.poll() is None or _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        proc.poll()  # reap the leader: a zombie still counts as a member of the group
        if proc.returncode is not None and not _group_alive(pgid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    proc.wait(10)


def wait_http(url: str, seconds: float, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited early; see {log_path}:\n{log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} not up after {seconds:.0f}s; see {log_path}")


@contextlib.contextmanager
def background(
    cmd: list[str], log_path: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    with log_path.open("w") as out:
        # Own session: stopping the group also stops children (prefect server runs uvicorn).
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                                start_new_session=True)
    try:
        yield proc
    finally:
        stop_group(proc)


@dataclass
class Measured:
    seconds: float
    peak_rss_kb: int | None
    returncode: int

    @property
    def peak_rss_mb(self) -> float | None:
        return None if self.peak_rss_kb is None else round(self.peak_rss_kb / 1024, 1)


def _gnu_time_max_rss(path: Path) -> int | None:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            if "Maximum resident set size" in line:
                return int(line.rsplit(":", 1)[1])
    return None


def _wait_measured(proc: subprocess.Popen, started: float, rusage_file: Path | None, timeout: float) -> Measured:
    if rusage_file is not None:
        returncode = proc.wait(timeout)  # GNU time exits with the command's status
        return Measured(round(time.perf_counter() - started, 2), _gnu_time_max_rss(rusage_file), returncode)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = returncode = os.waitstatus_to_exitcode(status)
    return Measured(round(seconds, 2), int(usage.ru_maxrss), returncode)  # ru_maxrss: kB on Linux


def run_measured(cmd: list[str], env: dict[str, str], log_path: Path, timeout: float = 3600) -> Measured:
    """Run cmd to completion; wall seconds and the peak RSS (kB) of its largest process.

    GNU time reports ru_maxrss of the child, which Linux folds over the child's waited-for
    descendants: the max over the process tree. Without GNU time, os.wait4 gives the same.
    """
    use_gnu_time = GNU_TIME.is_file() and os.access(GNU_TIME, os.X_OK)
    rusage_file = log_path.with_suffix(".time") if use_gnu_time else None
    full = [str(GNU_TIME), "-v", "-o", str(rusage_file), *cmd] if rusage_file else cmd
    with log_path.open("w") as out:
        started = time.perf_counter()
        # Not from the checkout: Prefect reads a `.env` in the working directory once per
        # settings model (~110 times per start), and a developer's `.env` is not what a worker
        # or the image (no .env) pays. The logs folder holds none.
        proc = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=log_path.parent,
                                start_new_session=True)
        try:
            return _wait_measured(proc, started, rusage_file, timeout)
        except BaseException:
            stop_group(proc, grace=5)
            raise


def run_quiet(cmd: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    """An untimed helper command; its whole process group goes if we are interrupted."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(stdin)
    except BaseException:
        stop_group(proc, grace=5)
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, output, "")


def tail_reason(log_path: Path) -> str:
    """The line of a failed command's log most likely to say why (an Error), else its last line."""
    lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    reason = next((line for line in reversed(lines) if "Error" in line or "Exception" in line),
                  lines[-1] if lines else "no output")
    return reason.strip()[:300]
