"""The change streams a bench run loads: their sizes, the files, and the tickets each must leave.

Three INC streams, all from `fleettickets.sample.write_stream` (same seed, same bytes):

- `10x`: the 10x baseline, the big deltas, then `repeat` small deltas (the scheduled runs);
- `1x`: the same at a tenth of the size (the small deltas are the same size in both);
- `backlog`: the 1x baseline and `backlog_deltas` small deltas (a reseed or a long outage).

Files are reused when the stream's manifest matches its sizes, seed and generator source.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.procs import REPO, log

DATASET = "inc"


@dataclass(frozen=True)
class Sizes:
    rows: int = 314_340  # the 10x baseline (a real one is ~31,434 rows)
    deltas: int = 5  # big deltas after the 10x baseline
    delta_rows: int = 4000
    small_rows: int = 400  # a scheduled run's delta, and each backlog delta
    backlog_deltas: int = 150
    repeat: int = 3  # scheduled runs per scale and nothing-to-do pairs (the median is kept)
    seed: int = 7


QUICK = Sizes(rows=20_000, deltas=3, delta_rows=500, small_rows=40, backlog_deltas=20, repeat=1)


@dataclass(frozen=True)
class StreamSpec:
    name: str
    rows: int
    delta_rows: tuple[int, ...]
    seed: int


@dataclass
class Stream:
    spec: StreamSpec
    paths: list[Path]
    tickets_after: list[int]  # tickets the table must hold after file k (index k)

    def expected(self, files: int) -> int:
        return self.tickets_after[files - 1]


def stream_specs(sizes: Sizes) -> dict[str, StreamSpec]:
    small = (sizes.small_rows,) * sizes.repeat
    return {
        "10x": StreamSpec("10x", sizes.rows, (sizes.delta_rows,) * sizes.deltas + small, sizes.seed),
        "1x": StreamSpec("1x", sizes.rows // 10, (sizes.delta_rows // 10,) * sizes.deltas + small, sizes.seed),
        "backlog": StreamSpec("backlog", sizes.rows // 10, (sizes.small_rows,) * sizes.backlog_deltas, sizes.seed),
    }


def generator_fingerprint() -> str:
    """New generator code means new files: a hash of the generator and the column list."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "fleettickets" / "sample").glob("*.py")) + [REPO / "fleettickets" / "columns.txt"]:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _reusable(folder: Path, wanted: dict) -> Stream | None:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        manifest = json.loads((folder / "manifest.json").read_text())
        paths = [folder / name for name in manifest["files"]]
        if {k: manifest.get(k) for k in wanted} == wanted and all(
            p.is_file() and p.stat().st_size == manifest["sizes"][p.name] for p in paths
        ):
            return Stream(StreamSpec(**{**wanted["spec"], "delta_rows": tuple(wanted["spec"]["delta_rows"])}),
                          paths, manifest["tickets_after"])
    return None


def generate(workdir: Path, spec: StreamSpec) -> Stream:
    """The stream under workdir/streams/<name>/, reused when its manifest matches."""
    from fleettickets.sample import write_stream

    folder = workdir / "streams" / spec.name
    wanted = {"dataset": DATASET, "spec": {**asdict(spec), "delta_rows": list(spec.delta_rows)},
              "generator": generator_fingerprint()}
    if (stream := _reusable(folder, wanted)) is not None:
        log(f"{spec.name}: reusing {len(stream.paths)} files in {folder} (manifest matches)")
        return stream
    shutil.rmtree(folder, ignore_errors=True)
    log(f"{spec.name}: generating a {spec.rows}-row baseline + {len(spec.delta_rows)} deltas into {folder}")
    started = time.perf_counter()
    paths = write_stream(DATASET, folder, rows=spec.rows, deltas=len(spec.delta_rows), seed=spec.seed,
                         delta_rows=list(spec.delta_rows))
    stream = Stream(spec, paths, tickets_after(paths))
    log(f"{spec.name}: generated and counted in {time.perf_counter() - started:.1f}s")
    manifest = {**wanted, "files": [p.name for p in paths], "sizes": {p.name: p.stat().st_size for p in paths},
                "tickets_after": stream.tickets_after}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return stream


def tickets_after(paths: list[Path]) -> list[int]:
    """Tickets a table must hold after each file, read with the csv module from the contract.

    Sentinel and id-less rows are not tickets; alarm rows are dropped rows, so a ticket
    exists once any of its rows in any file so far is a non-alarm row. There are no deletions.
    """
    from fleettickets.datasets import SENTINEL_PREFIX

    tickets: set[str] = set()
    counts = []
    for path in paths:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = [c.strip() for c in next(reader)]
            id_at, alarm_at = header.index("ticket_id"), header.index("is_alarm")
            for row in reader:
                ticket_id = row[id_at].strip()
                if ticket_id and not ticket_id.startswith(SENTINEL_PREFIX) and row[alarm_at].strip().lower() != "true":
                    tickets.add(ticket_id)
        counts.append(len(tickets))
    return counts
