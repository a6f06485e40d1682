"""Runs in the dlt environment (which may lack this project): one dlt pipeline run over the
files in name order, merge on ticket_id, the contract's filter and normalisation.

Standard library and dlt only. Usage: python bench/dlt_worker.py JOB.json (see dlt_side.py).
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def _row_rules(job: dict[str, Any]) -> tuple[Callable[[dict[str, Any]], bool], Callable[[dict[str, Any]], dict]]:
    """keep(row) and clean(row): the contract's rules, as dlt's add_filter / add_map."""
    sentinel, dropped = job["sentinel_prefix"], set(job["dropped_columns"])
    kept_seq = itertools.count()

    def keep(row: dict[str, Any]) -> bool:
        ticket_id = (row.get("ticket_id") or "").strip()
        alarm = (row.get("is_alarm") or "").strip().lower() == "true"
        return bool(ticket_id) and not ticket_id.startswith(sentinel) and not alarm

    def clean(row: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for column, value in row.items():
            name = column.strip()
            if name in dropped:
                continue
            value = value.strip() if name in {"ticket_id", "bucket"} else value
            value = value.strip().lower() if name in {"region", "is_actionable"} else value
            value = value.strip().upper() if name == "raw_status" else value
            out[name] = value if value != "" else None
        # Files are read in order and rows in file order: a running number orders the
        # stream, and dedup_sort keeps each ticket's last row (the contract's rule).
        out["seq"] = next(kept_seq)
        return out

    return keep, clean


def run(job_path: Path) -> None:
    import dlt
    from dlt.sources.filesystem import filesystem, read_csv

    job = json.loads(job_path.read_text())
    order = {name: i for i, name in enumerate(job["names"])}

    def in_name_order(items: list[Any]) -> Iterator[list[Any]]:
        # glob order is not name order; the stream must be read oldest file first.
        yield sorted((f for f in items if f["file_name"] in order), key=lambda f: order[f["file_name"]])

    keep, clean = _row_rules(job)
    files = filesystem(bucket_url=Path(job["files_dir"]).as_uri(), file_glob="*.csv", files_per_page=1000)
    rows = (files | dlt.transformer(name="in_name_order")(in_name_order)
            | read_csv(dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig"))
    rows = rows.add_filter(keep).add_map(clean)
    rows.apply_hints(table_name=job["table"], write_disposition="merge", primary_key="ticket_id",
                     columns={"seq": {"data_type": "bigint", "dedup_sort": "desc"}})
    pipeline = dlt.pipeline(
        pipeline_name=job["pipeline"], pipelines_dir=job["pipelines_dir"],
        destination=dlt.destinations.postgres(credentials=job["dsn"]), dataset_name=job["dataset"],
    )
    started = time.perf_counter()
    print(pipeline.run(rows))
    print(json.dumps({"dlt_seconds": round(time.perf_counter() - started, 2)}))


if __name__ == "__main__":
    run(Path(sys.argv[1]))
