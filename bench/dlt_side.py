"""dlt beside the 10x figure: the peer a user would otherwise pick, run by bench/dlt_worker.py."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shutil
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from bench.procs import REPO, log, run_measured, run_quiet, tail_reason
from bench.stack import checkpoint, query_one, with_password

WORKER = Path(__file__).resolve().parent / "dlt_worker.py"


@dataclass
class DltResult:
    ok: bool = False
    seconds: float | None = None
    peak_rss_mb: float | None = None
    rows: int | None = None
    origin: str = ""
    error: str | None = None


def locked_version(package: str) -> str | None:
    with contextlib.suppress(OSError, tomllib.TOMLDecodeError):
        lock = tomllib.loads((REPO / "uv.lock").read_text())
        for entry in lock.get("package", []):
            if entry.get("name") == package:
                return str(entry["version"])
    return None


def dlt_python() -> tuple[list[str], str]:
    """The command prefix that runs Python with dlt, and a word on where dlt comes from.

    dlt is in the project's `bench` dependency group, which `uv sync` (make setup) does not
    install. When .venv lacks it, uv layers the locked dlt (and .venv's pandas, so both
    loaders parse CSV with the same pandas) in a cached throwaway environment; .venv and
    the lock stay untouched.
    """
    if importlib.util.find_spec("dlt") is not None:
        return [sys.executable], "dlt from .venv"
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("dlt is not installed in .venv and uv is not on PATH (uv sync --group bench)")
    from importlib.metadata import version

    dlt_spec = f"dlt[postgres,filesystem]=={locked_version('dlt') or '1.31.0'}"
    prefix = [uv, "run", "--quiet", "--no-project", "--python", sys.executable,
              "--with", dlt_spec, "--with", f"pandas=={version('pandas')}", "python"]
    return prefix, f"{dlt_spec} via uv run --with"


def _job(paths: list[Path], dsn: str, tmp: Path, dataset: str, pipeline: str) -> Path:
    from fleettickets.datasets import DROPPED_COLUMNS, SENTINEL_PREFIX

    job = {"files_dir": str(paths[0].parent), "names": [p.name for p in paths], "dsn": with_password(dsn),
           "dataset": dataset, "table": "inc", "pipelines_dir": str(tmp / "dlt-pipelines"), "pipeline": pipeline,
           "sentinel_prefix": SENTINEL_PREFIX, "dropped_columns": sorted(DROPPED_COLUMNS)}
    path = tmp / f"{pipeline}.json"
    path.write_text(json.dumps(job))
    return path


def run_dlt(paths: list[Path], dsn: str, env: dict[str, str], logs: Path, tmp: Path, warm: bool,
            expected: int) -> DltResult:
    result = DltResult()
    try:
        prefix, result.origin = dlt_python()
    except RuntimeError as exc:
        result.error = str(exc)
        return result
    env = {**env, "DLT_DATA_DIR": str(tmp / "dlt-data"), "RUNTIME__DLTHUB_TELEMETRY": "false"}
    # Resolve/cached-install the dlt environment off the clock (the first run downloads it).
    probe = run_quiet([*prefix, "-c", "import dlt, pandas"], env)
    if probe.returncode != 0:
        result.error = f"cannot import dlt: {probe.stdout.strip()[-500:]}"
        return result
    if warm:  # same footing as ours: a small pipeline run (the last file, its own dataset) first
        warm_up = run_quiet([*prefix, str(WORKER), str(_job(paths[-1:], dsn, tmp, "bench_dlt_warmup", "warmup"))], env)
        if warm_up.returncode != 0:
            log(f"warning: dlt warm-up exited {warm_up.returncode}")
    job = _job(paths, dsn, tmp, "bench_dlt", "fleettickets_bench")
    checkpoint(dsn)
    log(f"timing: dlt ({result.origin}) ...")
    measured = run_measured([*prefix, str(WORKER), str(job)], env, logs / "dlt.log")
    result.seconds, result.peak_rss_mb = measured.seconds, measured.peak_rss_mb
    if measured.returncode != 0:
        result.error = f"exit code {measured.returncode}: {tail_reason(logs / 'dlt.log')} (see {logs / 'dlt.log'})"
        return result
    result.rows = query_one(dsn, "SELECT count(*) FROM bench_dlt.inc")
    result.ok = result.rows == expected
    if not result.ok:
        result.error = f"bench_dlt.inc holds {result.rows} tickets, expected {expected}"
    return result
