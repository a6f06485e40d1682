"""Where each dataset stands: watermark, pending files, rows, open tickets, last run."""

from __future__ import annotations

import logging
from typing import Any

from fleettickets import storage
from fleettickets.config import Settings
from fleettickets.datasets import DATASETS
from fleettickets.db import connect, table_sql
from fleettickets.ingest import eat_label

log = logging.getLogger(__name__)


def status(settings: Settings, s3_client: Any | None = None) -> dict[str, dict]:
    """Per dataset status; `pending_files` is null when the bucket cannot be reached."""
    result: dict[str, dict] = {}
    for name, dataset in DATASETS.items():
        with connect(settings.database_url, autocommit=True) as conn:
            cur = conn.execute(table_sql("status.sql", dataset), {"dataset": name})
            found = cur.fetchone()
            row = dict(zip([c.name for c in cur.description], found, strict=True)) if found else {}
        pending: int | None = None
        try:
            client = s3_client or storage.make_s3_client(settings)
            pending = len(storage.list_change_files(client, settings.s3_bucket, dataset).files)
        except Exception as exc:  # noqa: BLE001 - status must still show the database side
            log.warning("bucket not reachable for %s: %s", name, type(exc).__name__)
        last_run_at = row.get("last_run_at")
        result[name] = {
            "watermark": row.get("watermark"),
            "watermark_eat": eat_label(row.get("watermark")),
            "pending_files": pending,
            "files_applied": row.get("files_applied", 0),
            "rows": row.get("rows", 0),
            "open": row.get("open", 0),
            "last_run_at": last_run_at.isoformat() if last_run_at else None,
            "last_run_status": row.get("last_run_status"),
            "geocoded": row.get("geocoded") or {},
        }
    return result


def render_status(data: dict[str, dict]) -> str:
    lines = []
    for name, s in data.items():
        pending = "?" if s["pending_files"] is None else s["pending_files"]
        geo = ", ".join(f"{k} {v}" for k, v in s["geocoded"].items())
        lines += [
            f"{name}: watermark {s['watermark'] or '-'} ({s['watermark_eat']})",
            f"  pending files {pending}  applied files {s['files_applied']}"
            f"  rows {s['rows']}  open {s['open']}",
            f"  last run {s['last_run_at'] or 'never'} ({s['last_run_status'] or '-'})",
            f"  geocoded: {geo}",
        ]
    return "\n".join(lines)
