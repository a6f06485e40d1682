"""Benchmark: `fleettickets ingest inc` on a 10x INC baseline + deltas, against a plain-SQL
floor (psql \\copy + one INSERT .. ON CONFLICT per file) and dlt (the peer a user would pick).

One run does everything: generate (or reuse) the files, start its own moto S3 server and
Prefect server, create its own database, time the three loaders, check the row counts,
print a table and write bench/out/results.json. See bench/README.md.

The module imports only the standard library at the top: the same file is re-run as the
dlt worker (`--dlt-worker`), possibly in an environment that has dlt but not this project.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_WORKDIR = REPO / "bench" / "out"
ADMIN_DSN = os.environ.get("FLEETTICKETS_BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_DB = "fleettickets_bench"
BENCH_DSN = ADMIN_DSN.rsplit("/", 1)[0] + "/" + BENCH_DB
BUCKET = "isptickets-bench"
DATASET = "inc"
GNU_TIME = Path("/usr/bin/time")

# The contract (docs/contract/EXPORT_FORMAT.md), restated here so the expected count and
# the floor do not lean on the engine under test.
SENTINEL_PREFIX = "EXPORT STOPPED DUE TO EXCESSIVE SIZE"
DROPPED_COLUMNS = frozenset({
    "source_type", "department", "service_type", "is_alarm",
    "week_start", "week_end", "source_s3_bucket", "source_s3_key", "source_snapshot_id",
})
_FILE_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})\.csv$")

TARGET_RATIO = 2.0  # ours <= 2.0x floor
TARGET_RSS_MB = 400.0


# -- small helpers ---------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def file_ts_literal(path: Path) -> str:
    """'2026-06-15 06:00:00+03' (EAT) from a change file's name."""
    match = _FILE_NAME.match(path.name)
    if not match:
        raise ValueError(f"{path.name}: not a change file name")
    day, hh, mm, ss = match.groups()
    return f"{day} {hh}:{mm}:{ss}+03"


def read_header(path: Path) -> list[str]:
    # utf-8-sig: the exporter may write a BOM, which must not end up in the first name.
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [c.strip() for c in next(csv.reader(f))]


def rss_mb(kilobytes: int | None) -> float | None:
    return None if kilobytes is None else round(kilobytes / 1024, 1)


# -- processes we start (stopped at the end, whatever happens) --------------------------


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


def run_measured(cmd: list[str], env: dict[str, str], log_path: Path, timeout: float = 3600) -> Measured:
    """Run cmd to completion; wall seconds and the peak RSS (kB) of its largest process.

    GNU time reports ru_maxrss of the child, which Linux folds over the child's waited-for
    descendants: the max over the process tree. Without GNU time, os.wait4 gives the same.
    """
    rusage_file = log_path.with_suffix(".time")
    use_gnu_time = GNU_TIME.is_file() and os.access(GNU_TIME, os.X_OK)
    full = [str(GNU_TIME), "-v", "-o", str(rusage_file), *cmd] if use_gnu_time else cmd
    with log_path.open("w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                                start_new_session=True)
        try:
            if use_gnu_time:
                returncode = proc.wait(timeout)
                seconds = time.perf_counter() - started
                peak = _gnu_time_max_rss(rusage_file)  # GNU time exits with the command's status
            else:
                _, status, usage = os.wait4(proc.pid, 0)
                seconds = time.perf_counter() - started
                proc.returncode = returncode = os.waitstatus_to_exitcode(status)
                peak = int(usage.ru_maxrss)  # kilobytes on Linux
        except BaseException:
            stop_group(proc, grace=5)
            raise
    return Measured(round(seconds, 2), peak, returncode)


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


def with_password(dsn: str) -> str:
    """dlt insists on a password; with the local trust auth any value is accepted and ignored."""
    parts = urllib.parse.urlsplit(dsn)
    if parts.password is not None or not parts.username:
        return dsn
    netloc = f"{parts.username}:trust-auth-ignores-this@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _gnu_time_max_rss(path: Path) -> int | None:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            if "Maximum resident set size" in line:
                return int(line.rsplit(":", 1)[1])
    return None


# -- data -------------------------------------------------------------------------------


def generator_fingerprint() -> str:
    # The generator is still being worked on: new generator code means new files.
    return hashlib.sha256((REPO / "fleettickets" / "sample.py").read_bytes()).hexdigest()[:16]


def generate(workdir: Path, rows: int, deltas: int, delta_rows: int, seed: int) -> list[Path]:
    """The INC stream under workdir/inc/, reused when the manifest says it matches."""
    from fleettickets.sample import write_stream

    folder = workdir / DATASET
    manifest_path = workdir / "manifest.json"
    wanted = {"dataset": DATASET, "rows": rows, "deltas": deltas, "delta_rows": delta_rows, "seed": seed,
              "generator": generator_fingerprint()}
    with contextlib.suppress(OSError, ValueError, KeyError):
        manifest = json.loads(manifest_path.read_text())
        paths = [folder / name for name in manifest["files"]]
        if {k: manifest.get(k) for k in wanted} == wanted and all(
            p.is_file() and p.stat().st_size == manifest["sizes"][p.name] for p in paths
        ):
            log(f"reusing {len(paths)} files in {folder} (manifest matches)")
            return paths
    shutil.rmtree(folder, ignore_errors=True)
    manifest_path.unlink(missing_ok=True)
    log(f"generating INC baseline of {rows} rows + {deltas} deltas x {delta_rows} rows into {folder}")
    started = time.perf_counter()
    paths = write_stream(DATASET, folder, rows=rows, deltas=deltas, delta_rows=delta_rows, seed=seed)
    log(f"generated in {time.perf_counter() - started:.1f}s")
    sizes = {p.name: p.stat().st_size for p in paths}
    manifest = {**wanted, "files": [p.name for p in paths], "sizes": sizes}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return paths


def expected_tickets(paths: list[Path]) -> int:
    """Tickets the table must hold, read with the csv module straight from the contract.

    Sentinel and id-less rows are not tickets; alarm rows are dropped rows, so a ticket
    exists once any of its rows in any file is a non-alarm row. There are no deletions.
    """
    tickets: set[str] = set()
    for path in paths:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = [c.strip() for c in next(reader)]
            id_at, alarm_at = header.index("ticket_id"), header.index("is_alarm")
            for row in reader:
                ticket_id = row[id_at].strip()
                if not ticket_id or ticket_id.startswith(SENTINEL_PREFIX):
                    continue
                if row[alarm_at].strip().lower() != "true":
                    tickets.add(ticket_id)
    return len(tickets)


# -- database -----------------------------------------------------------------------------


def reset_database() -> None:
    import psycopg

    from fleettickets.migrate import migrate

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    migrate(BENCH_DSN)
    with psycopg.connect(BENCH_DSN, autocommit=True) as conn:
        # Same generated columns and indexes as tickets.inc: the floor pays the same write cost.
        conn.execute("CREATE SCHEMA bench_floor")
        conn.execute("CREATE TABLE bench_floor.inc (LIKE tickets.inc INCLUDING ALL)")


def query_one(sql: str) -> Any:
    import psycopg

    with psycopg.connect(BENCH_DSN, autocommit=True) as conn:
        cur = conn.execute(sql)
        row = cur.fetchone() if cur.description else None
    return row[0] if row else None


def checkpoint() -> None:
    # Flush the previous loader's dirty pages so they are not written on the next one's clock.
    query_one("CHECKPOINT")


# -- the three loaders ------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    ok: bool = False
    seconds: float | None = None
    peak_rss_mb: float | None = None
    rows: int | None = None
    note: str = ""
    error: str | None = None


def run_ours(
    paths: list[Path], s3_url: str, base_env: dict[str, str], logs: Path, expected: int, warm: bool
) -> Result:
    from fleettickets import storage
    from fleettickets.config import Settings
    from fleettickets.datasets import get_dataset

    result = Result("ours", note="fleettickets ingest inc (Prefect flow, S3 -> PostgreSQL)")
    settings = Settings(database_url=BENCH_DSN, s3_endpoint_url=s3_url, s3_bucket=BUCKET,
                        s3_region="us-east-1", s3_access_key="bench", s3_secret_key="bench-secret")
    env = {
        **base_env,
        "DATABASE_URL": BENCH_DSN,
        "RUSTFS_ENDPOINT_URL": s3_url,
        "RUSTFS_ACCESS_KEY": "bench",
        "RUSTFS_SECRET_KEY": "bench-secret",
        "RUSTFS_BUCKET": BUCKET,
        "RUSTFS_REGION": "us-east-1",
        "FLEETTICKETS_ENV_FILE": "/dev/null",  # never a developer's .env
        # The sample's file times are fixed dates in the past: without this the run would
        # end in "source is stale" (exit 3) after applying everything.
        "FLEETTICKETS_STALE_AFTER_MINUTES": "0",
    }
    env.pop("FLEETTICKETS_ALERT_WEBHOOK", None)  # a bench run never pages anyone
    client = storage.make_s3_client(settings)
    storage.ensure_bucket(client, BUCKET)
    if warm:
        # A deployed worker has compiled bytecode and a warm Prefect server: one ingest of
        # the (empty) CRQ stream before the clock fills the bytecode cache and warms both.
        warm_up = run_quiet([str(VENV_BIN / "fleettickets"), "ingest", "crq"], env)
        if warm_up.returncode != 0:
            log(f"warning: warm-up `fleettickets ingest crq` exited {warm_up.returncode}")
    storage.upload_files(client, BUCKET, get_dataset(DATASET), paths)
    log(f"uploaded {len(paths)} files to s3://{BUCKET}/automations/inc/changes/ on {s3_url}")
    checkpoint()
    log("timing: fleettickets ingest inc --no-geocode ...")
    # Like for like with the floor and dlt, which place nothing on the map; geocoding the
    # loaded tickets is timed on its own below.
    measured = run_measured([str(VENV_BIN / "fleettickets"), "ingest", DATASET, "--no-geocode"], env,
                            logs / "ours.log")
    result.seconds, result.peak_rss_mb = measured.seconds, rss_mb(measured.peak_rss_kb)
    result.rows = query_one("SELECT count(*) FROM tickets.inc")
    if measured.returncode != 0:
        result.error = f"exit code {measured.returncode}; see {logs / 'ours.log'}"
    elif result.rows != expected:
        result.error = f"tickets.inc holds {result.rows} tickets, expected {expected}"
    else:
        result.ok = True
        geo = run_measured([str(VENV_BIN / "fleettickets"), "geocode"], env, logs / "geocode.log")
        log(f"not in the ratio: `fleettickets geocode` (offline) over the loaded tickets took {geo.seconds} s,"
            f" peak RSS {rss_mb(geo.peak_rss_kb)} MB, exit {geo.returncode}")
    return result


_FLOOR_VALUE = {  # contract cleaning of a kept column, as SQL over the raw text column
    "ticket_id": "btrim({c})",
    "region": "lower(btrim({c}))",
    "raw_status": "upper(btrim({c}))",
    "bucket": "btrim({c})",
    "is_actionable": "lower(btrim({c}))",
}


def floor_script(path: Path, header: list[str]) -> str:
    """One file, one psql session, one transaction: \\copy into a temp table, one upsert."""
    cols = ", ".join(f'"{c}"' for c in header)  # the file's own column order
    pairs = ", ".join(
        f"'{c}', nullif({_FLOOR_VALUE.get(c, '{c}').format(c=f'r.{c}')}, '')"
        for c in header if c not in DROPPED_COLUMNS
    )
    typed = ", ".join(f'"{c}" text' for c in header)
    quoted_path = str(path).replace("'", "''")
    # Names come from the checked contract header; values reach the server only through COPY.
    return f"""
BEGIN;
CREATE TEMP TABLE raw_rows (seq bigint GENERATED ALWAYS AS IDENTITY, {typed}) ON COMMIT DROP;
\\copy raw_rows ({cols}) FROM '{quoted_path}' WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')
INSERT INTO bench_floor.inc (ticket_id, raw, source_key, file_ts)
SELECT DISTINCT ON (btrim(r.ticket_id)) btrim(r.ticket_id), jsonb_build_object({pairs}),
       :'source_key', :'file_ts'::timestamptz
FROM raw_rows r
WHERE btrim(r.ticket_id) <> ''
  AND btrim(r.ticket_id) NOT LIKE '{SENTINEL_PREFIX}%'
  AND lower(btrim(r.is_alarm)) IS DISTINCT FROM 'true'
ORDER BY btrim(r.ticket_id), r.seq DESC
ON CONFLICT (ticket_id) DO UPDATE
    SET raw = excluded.raw, source_key = excluded.source_key, file_ts = excluded.file_ts,
        last_loaded_at = now();
COMMIT;
"""  # noqa: S608


def run_floor(paths: list[Path], logs: Path, expected: int) -> Result:
    result = Result("floor", note="psql \\copy + INSERT .. ON CONFLICT per file")
    contract = sorted(c.strip() for c in (REPO / "fleettickets" / "columns.txt").read_text().split())
    # Scripts are built before the clock starts: only psql and the server are timed.
    scripts = []
    for path in paths:
        header = read_header(path)
        if sorted(header) != contract:
            result.error = f"{path.name}: header is not the contract's 32 columns"
            return result
        scripts.append((path, floor_script(path, header)))
    checkpoint()
    log("timing: floor (psql per file) ...")
    started = time.perf_counter()
    with (logs / "floor.log").open("w") as out:
        for path, script in scripts:
            cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", BENCH_DSN,
                   "-v", f"source_key=automations/inc/changes/{path.name}",
                   "-v", f"file_ts={file_ts_literal(path)}", "-f", "-"]
            done = run_quiet(cmd, dict(os.environ), stdin=script)
            out.write(done.stdout)
            if done.returncode != 0:
                result.error = f"psql failed on {path.name} (exit {done.returncode}); see {out.name}"
                return result
    result.seconds = round(time.perf_counter() - started, 2)
    result.rows = query_one("SELECT count(*) FROM bench_floor.inc")
    result.ok = result.rows == expected
    if not result.ok:
        result.error = f"bench_floor.inc holds {result.rows} tickets, expected {expected}"
    return result


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


def run_dlt(
    paths: list[Path], base_env: dict[str, str], logs: Path, expected: int, tmp: Path, warm: bool
) -> Result:
    result = Result("dlt", note="dlt filesystem read_csv -> postgres, merge on ticket_id")
    try:
        prefix, origin = dlt_python()
    except RuntimeError as exc:
        result.error = str(exc)
        return result
    result.note += f" ({origin})"
    env = {**base_env, "DLT_DATA_DIR": str(tmp / "dlt-data"), "RUNTIME__DLTHUB_TELEMETRY": "false"}
    # Resolve/cached-install the dlt environment off the clock (first run downloads it).
    probe = run_quiet([*prefix, "-c", "import dlt, pandas"], env)
    if probe.returncode != 0:
        result.error = f"cannot import dlt: {probe.stdout.strip()[-500:]}"
        return result
    worker = [*prefix, str(Path(__file__).resolve()), "--dlt-worker"]
    job = {"files_dir": str(paths[0].parent), "names": [p.name for p in paths], "dsn": with_password(BENCH_DSN),
           "dataset": "bench_dlt", "table": DATASET, "pipelines_dir": str(tmp / "dlt-pipelines"),
           "pipeline": "fleettickets_bench"}
    job_path = tmp / "dlt-job.json"
    job_path.write_text(json.dumps(job))
    if warm:
        # Same footing as ours: a small pipeline run (last delta only, its own dataset) first.
        warm_job = {**job, "names": [paths[-1].name], "dataset": "bench_dlt_warmup",
                    "pipeline": "fleettickets_bench_warmup"}
        (tmp / "dlt-warmup.json").write_text(json.dumps(warm_job))
        warm_up = run_quiet([*worker, str(tmp / "dlt-warmup.json")], env)
        if warm_up.returncode != 0:
            log(f"warning: dlt warm-up exited {warm_up.returncode}")
    checkpoint()
    log(f"timing: dlt ({origin}) ...")
    log_path = logs / "dlt.log"
    measured = run_measured([*worker, str(job_path)], env, log_path)
    result.seconds, result.peak_rss_mb = measured.seconds, rss_mb(measured.peak_rss_kb)
    if measured.returncode != 0:
        tail = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
        reason = next((line for line in reversed(tail) if "Error" in line or "Exception" in line),
                      tail[-1] if tail else "no output")
        result.error = f"exit code {measured.returncode}: {reason.strip()[:300]} (see {log_path})"
        return result
    result.rows = query_one("SELECT count(*) FROM bench_dlt.inc")
    result.ok = result.rows == expected
    if not result.ok:
        result.error = f"bench_dlt.inc holds {result.rows} tickets, expected {expected}"
    return result


def dlt_worker(job_path: Path) -> None:
    """Runs in the dlt environment: one pipeline run over the files, merge on ticket_id."""
    import itertools

    import dlt
    from dlt.sources.filesystem import filesystem, read_csv

    job = json.loads(job_path.read_text())
    kept_seq = itertools.count()
    order = {name: i for i, name in enumerate(job["names"])}

    def in_name_order(items: list[Any]) -> Iterator[list[Any]]:
        # glob order is not name order; the stream must be read oldest file first.
        yield sorted((f for f in items if f["file_name"] in order), key=lambda f: order[f["file_name"]])

    def keep(row: dict[str, Any]) -> bool:
        ticket_id = (row.get("ticket_id") or "").strip()
        alarm = (row.get("is_alarm") or "").strip().lower() == "true"
        return bool(ticket_id) and not ticket_id.startswith(SENTINEL_PREFIX) and not alarm

    def clean(row: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for column, value in row.items():
            name = column.strip()
            if name in DROPPED_COLUMNS:
                continue
            value = value.strip() if name in {"ticket_id", "bucket"} else value
            value = value.strip().lower() if name in {"region", "is_actionable"} else value
            value = value.strip().upper() if name == "raw_status" else value
            out[name] = value if value != "" else None
        # Files are read in order and rows in file order: a running number orders the
        # stream, and dedup_sort keeps each ticket's last row (the contract's rule).
        out["seq"] = next(kept_seq)
        return out

    files = filesystem(bucket_url=Path(job["files_dir"]).as_uri(), file_glob="*.csv", files_per_page=1000)
    rows = (
        files
        | dlt.transformer(name="in_name_order")(in_name_order)
        | read_csv(dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
    )
    rows = rows.add_filter(keep).add_map(clean)
    rows.apply_hints(table_name=job["table"], write_disposition="merge", primary_key="ticket_id",
                     columns={"seq": {"data_type": "bigint", "dedup_sort": "desc"}})
    pipeline = dlt.pipeline(
        pipeline_name=job["pipeline"], pipelines_dir=job["pipelines_dir"],
        destination=dlt.destinations.postgres(credentials=job["dsn"]), dataset_name=job["dataset"],
    )
    started = time.perf_counter()
    info = pipeline.run(rows)
    print(info)
    print(json.dumps({"dlt_seconds": round(time.perf_counter() - started, 2)}))


# -- report -----------------------------------------------------------------------------


def ratio(a: Result | None, b: Result | None) -> float | None:
    if a is None or b is None or not (a.ok and b.ok) or not a.seconds or not b.seconds:
        return None
    return round(a.seconds / b.seconds, 2)


def fmt(value: float | int | None, suffix: str = "") -> str:
    return "-" if value is None else f"{value}{suffix}"


def report(params: dict[str, Any], results: list[Result], expected: int, extra: dict[str, Any],
           out_path: Path) -> None:
    by_name = {r.name: r for r in results}
    ours, floor, dlt_result = by_name.get("ours"), by_name.get("floor"), by_name.get("dlt")
    ratios = {"ours/floor": ratio(ours, floor), "dlt/floor": ratio(dlt_result, floor),
              "ours/dlt": ratio(ours, dlt_result)}
    speed = ratios["ours/floor"]
    rss = ours.peak_rss_mb if ours and ours.ok else None  # a failed run's peak says nothing
    targets = {
        f"ours <= {TARGET_RATIO}x floor": {
            "value": speed, "pass": speed is not None and speed <= TARGET_RATIO},
        f"peak RSS <= {TARGET_RSS_MB:.0f} MB": {
            "value": rss, "pass": rss is not None and rss <= TARGET_RSS_MB},
    }
    size_mb = params["bytes"] / 1e6
    lines = [
        "",
        f"fleettickets bench: INC baseline {params['rows']} rows + {params['deltas']} deltas x "
        f"{params['delta_rows']} rows ({params['files']} files, {size_mb:.1f} MB);"
        f" expected tickets {expected}",
        "",
        f"{'loader':<7} {'wall s':>8} {'peak RSS MB':>12} {'tickets':>9}  status",
    ]
    for r in results:
        status = "ok" if r.ok else "FAILED"
        lines.append(f"{r.name:<7} {fmt(r.seconds):>8} {fmt(r.peak_rss_mb):>12} {fmt(r.rows):>9}  {status}")
    lines.append("")
    lines += [f"{r.name}: failed: {r.error}" for r in results if not r.ok]
    lines.append("ratios (wall): " + "  ".join(f"{k} {fmt(v, 'x')}" for k, v in ratios.items()))
    for name, t in targets.items():
        unit = "x" if "floor" in name else " MB"
        lines.append(f"target {name}: {'PASS' if t['pass'] else 'FAIL'} ({fmt(t['value'], unit)})")
    for key, value in extra.items():
        lines.append(f"{key}: {value}")
    print("\n".join(lines), flush=True)
    out_path.write_text(json.dumps({
        "params": params, "expected_tickets": expected,
        "results": {r.name: asdict(r) for r in results},
        "ratios": ratios, "targets": targets, **extra,
    }, indent=2) + "\n")
    print(f"\nresults written to {out_path}", flush=True)


# -- main -------------------------------------------------------------------------------


def dead_servers(procs: dict[str, subprocess.Popen]) -> str | None:
    """Which of our servers is gone (something else on the machine may have killed it)."""
    dead = [f"{name} server pid {p.pid} exited with {p.returncode}" for name, p in procs.items()
            if p.poll() is not None]
    return "; ".join(dead) or None


def python_env(workdir: Path, warm: bool) -> dict[str, str]:
    """Environment for the Python processes we time.

    This machine sets PYTHONDONTWRITEBYTECODE and .venv holds no .pyc, so every cold process
    compiles all it imports (~6 s for Prefect). Warm mode keeps bytecode in workdir/pycache
    (PYTHONPYCACHEPREFIX): nothing is written into .venv.
    """
    env = dict(os.environ)
    if warm:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


def _raise_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally`s that stop our servers


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=314_340, help="INC baseline rows (10x a real one)")
    parser.add_argument("--deltas", type=int, default=5, help="delta files after the baseline")
    parser.add_argument("--delta-rows", type=int, default=4000, help="rows per delta file")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (same seed, same bytes)")
    parser.add_argument("--skip-dlt", action="store_true", help="do not run the dlt comparison")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help="generated files, logs and results.json (default bench/out/)")
    parser.add_argument("--cold", action="store_true",
                        help="no bytecode cache and no warm-up runs (what a fresh container pays)")
    parser.add_argument("--dlt-worker", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.dlt_worker:
        dlt_worker(args.dlt_worker)
        return 0
    signal.signal(signal.SIGTERM, _raise_on_signal)
    signal.signal(signal.SIGHUP, _raise_on_signal)

    workdir: Path = args.workdir.resolve()
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fleettickets-bench-")))
        prefect_port, s3_port = free_port(), free_port()
        warm = not args.cold
        base_env = python_env(workdir, warm)
        prefect_env = {
            **base_env,
            "PREFECT_HOME": str(tmp / "prefect"),
            "PREFECT_API_URL": f"http://127.0.0.1:{prefect_port}/api",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
        }
        # This process imports Prefect too (fleettickets.storage): keep it out of ~/.prefect.
        os.environ.update(PREFECT_HOME=prefect_env["PREFECT_HOME"], PREFECT_API_URL=prefect_env["PREFECT_API_URL"])
        # Servers boot in the background while the files are generated and counted.
        prefect_cmd = [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                       "--port", str(prefect_port)]
        prefect = stack.enter_context(background(
            prefect_cmd, logs / "prefect-server.log", env=prefect_env))
        moto = stack.enter_context(background(
            [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)], logs / "moto-server.log"))

        paths = generate(workdir, args.rows, args.deltas, args.delta_rows, args.seed)
        expected = expected_tickets(paths)
        log(f"expected tickets after all files: {expected}")
        reset_database()
        log(f"database {BENCH_DB} created and migrated")

        s3_url = f"http://127.0.0.1:{s3_port}"
        wait_http(s3_url + "/moto-api/", 60, moto, logs / "moto-server.log")
        wait_http(prefect_env["PREFECT_API_URL"] + "/health", 120, prefect, logs / "prefect-server.log")
        log("moto and Prefect servers are up")

        servers = {"moto": moto, "prefect": prefect}
        load_before = os.getloadavg()[0]
        try:
            results = [run_ours(paths, s3_url, prefect_env, logs, expected, warm)]
        except Exception as exc:
            if died := dead_servers(servers):  # on a shared machine, say so plainly
                raise RuntimeError(died) from exc
            raise
        if not results[0].ok and (died := dead_servers(servers)):
            results[0].error = f"{results[0].error} ({died})"
        results.append(run_floor(paths, logs, expected))
        if not args.skip_dlt:
            results.append(run_dlt(paths, base_env, logs, expected, tmp, warm))

        extra: dict[str, Any] = {
            "mode": "warm (bytecode cache + one untimed warm-up run each)" if warm
            else "cold (no bytecode cache, no warm-up)",
            # Another job on this machine skews the figures: the load average says if one ran.
            "load average (1 min) before/after": f"{load_before:.2f} / {os.getloadavg()[0]:.2f}",
        }
        if results[0].ok and results[1].ok:
            # Same cleaning rules, so the two tables must agree row for row.
            extra["ours vs floor raw mismatches"] = query_one(
                "SELECT count(*) FROM tickets.inc t FULL JOIN bench_floor.inc f USING (ticket_id)"
                " WHERE t.raw IS DISTINCT FROM f.raw"
            )
        if results[0].ok and len(results) > 2 and results[2].ok:
            # dlt keeps columns, not jsonb (and types timestamps itself): spot-check the text
            # fields a delta changes, which shows whether each ticket's last row won.
            extra["ours vs dlt mismatches (status, bucket, team, owner)"] = query_one(
                "SELECT count(*) FROM tickets.inc t FULL JOIN bench_dlt.inc d USING (ticket_id)"
                " WHERE (t.raw->>'raw_status', t.raw->>'bucket', t.raw->>'assigned_team', t.raw->>'owner')"
                " IS DISTINCT FROM (d.raw_status, d.bucket, d.assigned_team, d.owner)"
            )
        params = {"rows": args.rows, "deltas": args.deltas, "delta_rows": args.delta_rows, "seed": args.seed,
                  "files": len(paths), "bytes": sum(p.stat().st_size for p in paths), "warm": warm,
                  "cpus": os.cpu_count()}
        report(params, results, expected, extra, workdir / "results.json")
    ours = results[0]
    if not ours.ok:
        print(f"ours failed: {ours.error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
