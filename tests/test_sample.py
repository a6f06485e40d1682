"""The sample generator: deterministic, and written in the contract's own terms (columns,
file names, keys, plus codes), read back with the csv module and the library's parsers."""

from __future__ import annotations

import csv
import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openlocationcode import openlocationcode

from fleettickets.datasets import CONTRACT_COLUMNS, EAT, SENTINEL_PREFIX, get_dataset, parse_file_ts
from fleettickets.sample import write_stream


def _digest(paths: list[Path]) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [row for row in csv.DictReader(f) if not row["ticket_id"].startswith(SENTINEL_PREFIX)]


def test_same_arguments_same_bytes_and_another_seed_other_bytes(tmp_path: Path):
    first = write_stream("inc", tmp_path / "a", rows=400, deltas=3, seed=5)
    again = write_stream("inc", tmp_path / "b", rows=400, deltas=3, seed=5)
    other = write_stream("inc", tmp_path / "c", rows=400, deltas=3, seed=6)
    assert [p.name for p in first] == [p.name for p in again]
    assert _digest(first) == _digest(again)
    assert set(_digest(first)).isdisjoint(_digest(other))


@pytest.mark.parametrize("dataset", ["inc", "crq"])
def test_files_speak_the_contract(tmp_path: Path, dataset: str):
    start = datetime(2026, 3, 1, 8, 0, tzinfo=EAT)
    paths = write_stream(dataset, tmp_path, rows=300, deltas=6, seed=3, delta_rows=40, start=start,
                         interval=timedelta(minutes=20))
    ds = get_dataset(dataset)
    for k, path in enumerate(paths):
        assert parse_file_ts(path.name) == start + k * timedelta(minutes=20)
        with path.open(encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader(f))
        assert sorted(header) == sorted(CONTRACT_COLUMNS)
        rows = _rows(path)
        assert len(rows) == (300 if k == 0 else 40)
        for row in rows:  # each value sits under its own column, whatever the file's column order
            assert row["ticket_id"].startswith(dataset.upper())
            assert row["source_s3_key"] == ds.changes_key(path.name)
            assert row["bucket"] in {"pending", "closed"}
            assert row["last_seen_at"] == parse_file_ts(path.name).strftime("%Y-%m-%d %H:%M:%S")
    assert any(list(_rows(p)[0]) != list(CONTRACT_COLUMNS) for p in paths), "one file shuffles its columns"


def test_a_size_per_delta(tmp_path: Path):
    paths = write_stream("inc", tmp_path, rows=200, deltas=3, seed=7, delta_rows=[30, 5, 12])
    assert [len(_rows(p)) for p in paths] == [200, 30, 5, 12]
    with pytest.raises(ValueError, match="2 sizes for 3 deltas"):
        write_stream("inc", tmp_path / "x", rows=10, deltas=3, delta_rows=[1, 2])


def test_plus_codes_in_locations_are_real_codes(tmp_path: Path):
    (baseline,) = write_stream("inc", tmp_path, rows=3000, deltas=0, seed=7)
    tokens = [t.strip(",") for row in _rows(baseline) for t in row["location"].split() if "+" in t]
    assert len(tokens) > 30  # ~3% of locations carry one
    for code in tokens:
        assert openlocationcode.isFull(code) or openlocationcode.isShort(code), code
