"""Does the generator still write the same bytes? This tree's `write_stream` against a git
revision's, for a handful of streams (both datasets, several seeds, sizes, starts, intervals,
a stream too small to repeat tickets, no deltas), compared by SHA-256 per file.

    python bench/sample_identity.py [--against REV] [--10x]

REV (default HEAD) is exported with `git archive` into a temporary folder and imported from
there in a subprocess, so any revision's generator (a module or a package) can be compared.
`--10x` adds the bench's 10x stream (314,340 rows + 5 x 4,000; ~1 min per side).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# (dataset, rows, deltas, seed, delta_rows, start ISO or None, interval minutes)
CASES = [
    ("inc", 31434, 3, 7, None, None, 20),
    ("crq", 31434, 3, 7, None, None, 20),
    ("inc", 20000, 6, 1, 500, None, 20),
    ("crq", 5000, 8, 42, None, None, 20),
    ("inc", 3000, 12, -3, 400, "2026-01-02T03:04:05+00:00", 7),
    ("inc", 30, 5, 99, 200, None, 20),  # too few tickets to repeat: the fill path
    ("crq", 0, 2, 5, None, None, 20),
    ("inc", 1000, 0, 11, None, None, 20),
    ("inc", 50, 4, 8, 1, "2026-03-01T10:00:00", 20),
]
CASE_10X = ("inc", 314_340, 5, 7, 4000, None, 20)

# Runs in the subprocess, with the generator under test first on sys.path.
_DIGEST = """
import hashlib, json, sys, tempfile
from datetime import datetime, timedelta
from pathlib import Path
from fleettickets.sample import write_stream
out = []
for dataset, rows, deltas, seed, delta_rows, start, minutes in json.loads(sys.argv[1]):
    extra = {"start": datetime.fromisoformat(start)} if start else {}
    with tempfile.TemporaryDirectory() as d:
        paths = write_stream(dataset, Path(d), rows=rows, deltas=deltas, seed=seed, delta_rows=delta_rows,
                             interval=timedelta(minutes=minutes), **extra)
        out.append([[p.name, hashlib.sha256(p.read_bytes()).hexdigest()] for p in paths])
print(json.dumps(out))
"""


def digests(tree: Path, cases: list[tuple]) -> list[list[list[str]]]:
    done = subprocess.run([sys.executable, "-c", _DIGEST, json.dumps(cases)], capture_output=True, text=True,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}, cwd=tree, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the generator in {tree} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def export(revision: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", revision, "fleettickets"],
                             capture_output=True, check=True).stdout
    with tempfile.TemporaryFile() as f:
        f.write(archive)
        f.seek(0)
        with tarfile.open(fileobj=f) as tar:
            tar.extractall(into, filter="data")
    return into


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="the git revision to compare with (default HEAD)")
    parser.add_argument("--10x", dest="big", action="store_true", help="also the bench's 10x stream")
    args = parser.parse_args()
    cases = CASES + ([CASE_10X] if args.big else [])
    with tempfile.TemporaryDirectory(prefix="sample-identity-") as tmp:
        theirs = digests(export(args.against, Path(tmp)), cases)
    ours = digests(REPO, cases)
    differing = 0
    for case, a, b in zip(cases, theirs, ours, strict=True):
        same = a == b
        differing += not same
        print(f"{'same' if same else 'DIFFERENT':9} {case[0]} rows={case[1]} deltas={case[2]} seed={case[3]}"
              f" files={len(b)}" + ("" if same else f" ({sum(x != y for x, y in zip(a, b, strict=False))} files)"))
    print(f"{len(cases) - differing} of {len(cases)} streams byte-identical to {args.against}")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
