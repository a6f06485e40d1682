"""The geocoding figures come from `bench/geocoding.py` (its own owner) when the file exists.

The bench calls `measure(**kwargs)` once, right after the 10x table is loaded and before
anything has placed it, passing only the keywords the function's signature names (all of
them if it takes **kwargs):

    dsn      the database holding the loaded 10x table (tickets not placed yet)
    env      the environment a `fleettickets` command needs for that database, the bench's
             bucket and Prefect server (geocoder offline)
    cli      the path of the `fleettickets` command
    logs     the folder for log files
    tickets  the tickets in tickets.inc
    quick    True in --quick mode (small sizes)

It returns rows for the table: an iterable of mappings (or objects) with `workload` and any
of `ours` (seconds), `reference`, `reference_name`, `limit` (ours / reference <= limit when
there is a reference, else ours <= limit seconds), `met`, `note`; or one mapping of
workload -> seconds. Whatever it leaves behind, the bench then runs `fleettickets geocode`
so the later runs start from a placed table.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.report import Row, failed_row, limit_row, pending_row, ratio_row

MODULE = Path(__file__).resolve().parent / "geocoding.py"
PENDING = (
    ("first placement of the 10x table (offline)", "<= 5 s"),
    ("geocoding step with nothing changed, 10x table", "~ what changed"),
)


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def _row(item: Any) -> Row:
    workload, ours, reference, limit = (_field(item, k) for k in ("workload", "ours", "reference", "limit"))
    if reference is not None:
        row = ratio_row(str(workload), ours, reference, str(_field(item, "reference_name") or ""), limit)
    elif limit is not None:
        row = limit_row(str(workload), ours, "s", limit)
    else:
        row = Row(str(workload), "-" if ours is None else f"{ours:.2f} s", values={"ours": ours})
    if _field(item, "met") is not None:
        row.met = bool(_field(item, "met"))
    if _field(item, "note"):
        row.reference = str(_field(item, "note"))
    return row


def _rows(result: Any) -> list[Row]:
    if hasattr(result, "rows"):  # bench/geocoding.py's GeocodingFigures
        result = result.rows()
    if isinstance(result, Mapping) and "workload" not in result:
        return [_row({"workload": k, "ours": v}) for k, v in result.items()]
    if isinstance(result, Mapping):
        return [_row(result)]
    return [_row(item) for item in result or []]


def geocoding_rows(context: dict[str, Any]) -> list[Row]:
    """The rows of bench/geocoding.py's measure(...), or 'pending' rows while it is absent."""
    if not MODULE.is_file():
        return [pending_row(name, target, "bench/geocoding.py not here yet") for name, target in PENDING]
    try:
        measure = importlib.import_module("bench.geocoding").measure
        parameters = inspect.signature(measure).parameters
        takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        rows = _rows(measure(**{k: v for k, v in context.items() if takes_all or k in parameters}))
    except Exception as exc:  # a measurement of its own: its failure is a row, not the end of the bench
        return [failed_row("geocoding (bench/geocoding.py)", f"{type(exc).__name__}: {exc}")]
    return rows or [pending_row(name, target, "measure() returned nothing") for name, target in PENDING]
