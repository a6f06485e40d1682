"""The plain-SQL floor: one `psql` per file (bench/sql/floor.sql), the fastest plain SQL a
person would write with the contract's cleaning rules, into `bench_floor.inc`; and the floor
that also keeps INC history as ours must (bench/sql/floor_history.sql, `bench_floor_history`)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from bench.procs import log, run_quiet
from bench.stack import query_one, sql

# The contract's cleaning of a kept column, as SQL over its raw text; other columns are
# kept as they are (empty text is null).
_CLEAN = {
    "ticket_id": "btrim({c})",
    "region": "lower(btrim({c}))",
    "raw_status": "upper(btrim({c}))",
    "bucket": "btrim({c})",
    "is_actionable": "lower(btrim({c}))",
}


@dataclass
class FloorResult:
    ok: bool = False
    seconds: float | None = None
    rows: int | None = None
    files: int = 0
    error: str | None = None


def read_header(path: Path) -> list[str]:
    import csv

    # utf-8-sig: the exporter may write a BOM, which must not end up in the first name.
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [c.strip() for c in next(csv.reader(f))]


# Each floor: its script template and the table whose ticket count is checked.
FLOOR = ("floor.sql", "bench_floor.inc")
FLOOR_WITH_HISTORY = ("floor_history.sql", "bench_floor_history.inc")


def floor_script(path: Path, header: list[str], template: str = FLOOR[0]) -> str:
    """A floor's script (bench/sql/floor.sql by default) for one file, in its own column order."""
    from fleettickets.datasets import DROPPED_COLUMNS

    pairs = ", ".join(
        f"'{c}', nullif({_CLEAN.get(c, '{c}').format(c=f'r.{c}')}, '')" for c in header if c not in DROPPED_COLUMNS
    )
    return sql(template).format(
        typed=", ".join(f'"{c}" text' for c in header),
        columns=", ".join(f'"{c}"' for c in header),
        path=str(path).replace("'", "''"),
        pairs=pairs,
    )


def _psql(dsn: str, path: Path) -> list[str]:
    from fleettickets.datasets import SENTINEL_PREFIX, get_dataset, parse_file_ts

    file_ts = parse_file_ts(path.name)
    assert file_ts is not None, path  # the sample names every file by the contract
    return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn,
            "-v", f"source_key={get_dataset('inc').changes_key(path.name)}",
            "-v", f"file_ts={file_ts.isoformat()}", "-v", f"sentinel={SENTINEL_PREFIX}", "-f", "-"]


def run_floor(paths: list[Path], dsn: str, log_path: Path, expected: int,
              floor: tuple[str, str] = FLOOR) -> FloorResult:
    """All files in order, one psql each; only psql and the server are on the clock."""
    template, table = floor
    from fleettickets.datasets import CONTRACT_COLUMNS

    result = FloorResult(files=len(paths))
    jobs = []
    for path in paths:  # built before the clock starts
        header = read_header(path)
        if sorted(header) != sorted(CONTRACT_COLUMNS):
            result.error = f"{path.name}: header is not the contract's {len(CONTRACT_COLUMNS)} columns"
            return result
        jobs.append((path, _psql(dsn, path), floor_script(path, header, template)))
    log(f"timing: {template.removesuffix('.sql').replace('_', ' with ')}, {len(paths)} files (one psql each) ...")
    started = time.perf_counter()
    with log_path.open("w") as out:
        for path, cmd, script in jobs:
            done = run_quiet(cmd, dict(os.environ), stdin=script)
            out.write(done.stdout)
            if done.returncode != 0:
                result.error = f"psql failed on {path.name} (exit {done.returncode}); see {log_path}"
                return result
    result.seconds = round(time.perf_counter() - started, 2)
    result.rows = query_one(dsn, f"SELECT count(*) FROM {table}")  # noqa: S608 (one of two constants)
    result.ok = result.rows == expected
    if not result.ok:
        result.error = f"{table} holds {result.rows} tickets, expected {expected}"
    return result
