"""Geocoding workload for the bench: first placement, a step with nothing changed, a small delta.

`measure()` builds an INC table per scale in a database of its own (1x = a real baseline of
31,434 rows, 10x = 314,340; sample.write_stream, seed 7), then times the geocoding step the
flows run (fleettickets.geocode.run_geocoding with the library's own steps; the offline
provider: gazetteer and plus codes, no requests):

    first placement   every ticket placed from empty caches
    nothing changed   the same step again: it should cost what changed (nothing), not the table
    after one delta   one file of `delta_rows` rows upserted, then the step
    update floor      one UPDATE of every ticket row, rolled back: what placing every ticket
                      cost at least while placements were columns of the ticket rows (before
                      migrations/09 moved them into narrow tables of their own)

Tickets are written with plain SQL (the cleaned row as `raw`, the last row of a ticket
winning, last_loaded_at moved only when the content changes), not through the ingest
engine: the figures are geocoding's alone. `make bench` calls `measure()`; on its own:

    .venv/bin/python -m bench.geocoding [--scales 1 10] [--delta-rows 400] [--json PATH]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
ADMIN_DSN = os.environ.get("FLEETTICKETS_BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
DEFAULT_WORKDIR = REPO / "bench" / "out" / "geocoding"
BASE_ROWS = 31_434  # one real INC baseline
SENTINEL_PREFIX = "EXPORT STOPPED DUE TO EXCESSIVE SIZE"


def log(message: str) -> None:
    print(f"[bench geocoding {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- figures ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepFigures:
    """One geocoding step: wall time, its parts, and the placements it wrote."""

    seconds: float
    clusters: float  # takes in the changed tickets, places them from the caches
    locations: float  # plus codes decoded
    resolve: float  # places the tickets whose answers arrived
    report: float  # coverage and unmatched clusters
    placed: int


@dataclass(frozen=True)
class ScaleFigures:
    scale: int
    tickets: int
    first_placement: StepFigures
    nothing_changed: StepFigures
    delta_rows: int  # rows the delta file changed
    after_delta: StepFigures
    update_floor: float  # seconds for one UPDATE of every ticket row (rolled back)


@dataclass(frozen=True)
class GeocodingFigures:
    scales: tuple[ScaleFigures, ...]

    def scale(self, n: int) -> ScaleFigures:
        return next(s for s in self.scales if s.scale == n)

    def ratio(self, part: str, big: int = 10, small: int = 1) -> float | None:
        """`part` at `big` over `small` ("nothing_changed", "after_delta"): 1.0 is flat."""
        try:
            a, b = getattr(self.scale(big), part).seconds, getattr(self.scale(small), part).seconds
        except StopIteration:
            return None
        return round(a / b, 2) if b else None

    def rows(self) -> list[dict]:
        """The bench table's rows (bench/geo_hook.py): first placement of the 10x table against
        its 5 s target, and the step with nothing changed at 10x against the same at 1x."""
        big, small = self.scale(10), self.scale(1)
        return [
            {"workload": "first placement of the 10x table (offline)", "ours": big.first_placement.seconds,
             "limit": 5.0, "note": f"(one UPDATE of every row: {big.update_floor:.2f} s)"},
            {"workload": "geocoding step with nothing changed, 10x vs 1x", "ours": big.nothing_changed.seconds,
             "reference": small.nothing_changed.seconds, "reference_name": "at 1x", "limit": 1.25},
        ]

    def as_dict(self) -> dict:
        return {"scales": [asdict(s) for s in self.scales],
                "ratios_10x_over_1x": {p: self.ratio(p) for p in ("nothing_changed", "after_delta")}}

    def render(self) -> str:
        lines = ["geocoding (offline): scale, tickets | first placement [update floor] | nothing changed"
                 " | after one delta (rows)"]
        for s in self.scales:
            lines.append(
                f"  {s.scale:>3}x {s.tickets:>7} | {_step(s.first_placement)} [{s.update_floor:.2f}s]"
                f" | {_step(s.nothing_changed)} | {_step(s.after_delta)} ({s.delta_rows})")
        for part in ("nothing_changed", "after_delta"):
            ratio = self.ratio(part)
            if ratio is not None:
                lines.append(f"  {part.replace('_', ' ')}: 10x / 1x = {ratio}")
        return "\n".join(lines)


def _step(f: StepFigures) -> str:
    return (f"{f.seconds:.2f}s (clusters {f.clusters:.2f}, locations {f.locations:.2f},"
            f" resolve {f.resolve:.2f}, report {f.report:.2f}; {f.placed} placed)")


# -- tickets, written straight into the table --------------------------------------------------

def _kept_columns(conn: psycopg.Connection) -> list[str]:
    """The contract columns a ticket row keeps: its STORED generated columns, plus ticket_id."""
    rows = conn.execute("SELECT attname FROM pg_attribute WHERE attrelid = 'tickets.inc'::regclass"
                        " AND attgenerated = 's' ORDER BY attnum").fetchall()
    return ["ticket_id", *(r[0] for r in rows)]


def _clean_rows(path: Path, kept: list[str]) -> Iterator[tuple[str, str]]:
    """(ticket_id, raw JSON) per real row of an export file, with the contract's cleaning of the
    columns the tables type (no sentinel, no alarm, no id-less row; empty cell = null)."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            ticket_id = row["ticket_id"].strip()
            if not ticket_id or ticket_id.startswith(SENTINEL_PREFIX):
                continue
            if row["is_alarm"].strip().lower() == "true":
                continue
            raw = {c: (row[c] if row[c] != "" else None) for c in kept}
            raw["ticket_id"] = ticket_id
            for column, fix in (("region", str.lower), ("raw_status", str.upper), ("bucket", str),
                                ("is_actionable", str.lower)):
                if raw[column] is not None:
                    raw[column] = fix(raw[column].strip()) or None
            yield ticket_id, json.dumps(raw)


def load_file(conn: psycopg.Connection, path: Path, source_key: str) -> int:
    """Upsert one export file's tickets (the last row of a ticket in the file wins); rows whose
    content is unchanged are not written. Returns the rows written."""
    kept = _kept_columns(conn)
    with conn.transaction():
        conn.execute("CREATE TEMP TABLE bench_stage (line bigint, ticket_id text, raw jsonb) ON COMMIT DROP")
        with conn.cursor().copy("COPY bench_stage (line, ticket_id, raw) FROM STDIN") as copy:
            for line, (ticket_id, raw) in enumerate(_clean_rows(path, kept)):
                copy.write_row((line, ticket_id, raw))
        cur = conn.execute(
            "INSERT INTO tickets.inc AS t (ticket_id, raw, source_key, file_ts)"
            " SELECT DISTINCT ON (ticket_id) ticket_id, raw, %(key)s, now() FROM bench_stage"
            " ORDER BY ticket_id, line DESC"
            " ON CONFLICT (ticket_id) DO UPDATE SET raw = excluded.raw, source_key = excluded.source_key,"
            "   file_ts = excluded.file_ts, last_loaded_at = now()"
            " WHERE t.raw IS DISTINCT FROM excluded.raw", {"key": source_key})
        return cur.rowcount


def stream_files(workdir: Path, scale: int, delta_rows: int, seed: int) -> list[Path]:
    """Baseline and one delta for a scale, generated once (same arguments, same bytes)."""
    from fleettickets.sample import write_stream

    folder = workdir / f"inc-{scale}x-{delta_rows}-{seed}"
    done = folder / "files.json"
    if done.is_file():
        paths = [folder / name for name in json.loads(done.read_text())]
        if all(p.is_file() for p in paths):
            return paths
    log(f"generating the {scale}x INC stream into {folder}")
    paths = write_stream("inc", folder, rows=BASE_ROWS * scale, deltas=1, delta_rows=delta_rows, seed=seed)
    done.write_text(json.dumps([p.name for p in paths]))
    return paths


# -- the workload ---------------------------------------------------------------------------------

def time_step(dsn: str) -> StepFigures:
    """One run_geocoding, as the flows make it (without Prefect's task runs), step by step."""
    from fleettickets.config import Settings
    from fleettickets.geocode import Steps, geocode_clusters, geocode_locations, resolve_geoms, run_geocoding

    parts: dict[str, float] = {}

    def timed(name: str, step: Callable) -> Callable:
        def call(*args: object) -> object:
            started = time.perf_counter()
            try:
                return step(*args)
            finally:
                parts[name] = time.perf_counter() - started
        return call

    settings = Settings.from_env().replace(database_url=dsn, geocoder_provider="offline")
    steps = Steps(clusters=timed("clusters", geocode_clusters), locations=timed("locations", geocode_locations),
                  resolve=timed("resolve", resolve_geoms))
    started = time.perf_counter()
    report = run_geocoding(settings, None, steps)
    seconds = time.perf_counter() - started
    return StepFigures(seconds=round(seconds, 3), clusters=round(parts["clusters"], 3),
                       locations=round(parts["locations"], 3), resolve=round(parts["resolve"], 3),
                       report=round(seconds - sum(parts.values()), 3),
                       placed=report.resolved.inc + report.resolved.crq)


def measure_scale(admin_dsn: str, workdir: Path, scale: int, delta_rows: int = 400, seed: int = 7) -> ScaleFigures:
    from fleettickets.migrate import migrate

    baseline, delta = stream_files(workdir, scale, delta_rows, seed)
    # another bench beside a running one sets its own prefix (bench/overhead.py, bench/stack.py)
    name = f"{os.environ.get('FLEETTICKETS_BENCH_DB_PREFIX', 'fleettickets_bench')}_geo_{scale}x"
    dsn = admin_dsn.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        migrate(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            tickets = load_file(conn, baseline, baseline.name)
            conn.execute("VACUUM ANALYZE tickets.inc")  # as autovacuum would after a load
        log(f"{scale}x: {tickets} tickets loaded; first placement")
        first = time_step(dsn)
        log(f"{scale}x: first placement {first.seconds}s; the step again")
        unchanged = time_step(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            written = load_file(conn, delta, delta.name)
        after = time_step(dsn)
        with psycopg.connect(dsn) as conn:
            started = time.perf_counter()
            conn.execute("UPDATE tickets.inc SET last_loaded_at = last_loaded_at")
            floor = round(time.perf_counter() - started, 3)
            conn.rollback()
        return ScaleFigures(scale=scale, tickets=tickets, first_placement=first, nothing_changed=unchanged,
                            delta_rows=written, after_delta=after, update_floor=floor)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(admin_dsn: str = ADMIN_DSN, workdir: Path = DEFAULT_WORKDIR, scales: tuple[int, ...] = (1, 10),
            delta_rows: int = 400, seed: int = 7) -> GeocodingFigures:
    """The workload at each scale, in one run (so that the figures compare)."""
    workdir.mkdir(parents=True, exist_ok=True)
    return GeocodingFigures(tuple(measure_scale(admin_dsn, workdir, s, delta_rows, seed) for s in scales))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="geocoding: first placement, nothing changed, one delta")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--delta-rows", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    os.environ.setdefault("FLEETTICKETS_ENV_FILE", "/dev/null")  # never a developer's .env
    figures = measure(ADMIN_DSN, args.workdir, tuple(args.scales), args.delta_rows, args.seed)
    print(figures.render())
    if args.json:
        args.json.write_text(json.dumps(figures.as_dict(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
