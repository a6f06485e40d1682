"""Where each dataset stands: watermark, pending files, rows, open tickets, last run, geocoding."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fleettickets import storage
from fleettickets.config import Settings
from fleettickets.datasets import DATASETS, eat_label
from fleettickets.db import connect, load_sql, table_sql
from fleettickets.geocode.budget import budget_state
from fleettickets.plan import hold_after

log = logging.getLogger(__name__)


def status(settings: Settings, s3_client: Any | None = None) -> dict[str, dict]:
    """Per dataset status; `pending_files` is null when the bucket cannot be reached."""
    result: dict[str, dict] = {}
    for name, dataset in DATASETS.items():
        with connect(settings.database_url, autocommit=True) as conn:
            cur = conn.execute(table_sql("status.sql", dataset), {"dataset": name})
            found = cur.fetchone()
            row = dict(zip([c.name for c in cur.description], found, strict=True)) if found else {}
            geocoding = _geocoding(conn, settings, dataset)
        pending: int | None = None
        held: list[str] = []
        try:
            client = s3_client or storage.make_s3_client(settings)
            listed = storage.list_change_files(client, settings.s3_bucket, dataset).files
            after = hold_after(datetime.now(UTC), settings.future_tolerance_minutes)
            held = [f.key for f in listed if f.ts > after]
            pending = len(listed) - len(held)
        except Exception as exc:  # status must still show the database side
            log.warning("bucket not reachable for %s: %s", name, type(exc).__name__)
        last_run_at = row.get("last_run_at")
        result[name] = {
            "watermark": row.get("watermark"),
            "watermark_eat": eat_label(row.get("watermark")),
            "pending_files": pending,
            "held_files": held,  # dated beyond the tolerance ahead of now: not applied
            "rebuild_required": bool(row.get("rebuild_required")),
            "files_applied": row.get("files_applied", 0),
            "rows": row.get("rows", 0),
            "open": row.get("open", 0),
            "last_run_at": last_run_at.isoformat() if last_run_at else None,
            "last_run_status": row.get("last_run_status"),
            "geocoded": row.get("geocoded") or {},
            **geocoding,
        }
        geocoded = result[name]["geocoded"]
        rows = sum(geocoded.values())
        placed = rows - geocoded.get("none", 0)
        result[name]["placed_pct"] = round(100.0 * placed / rows, 2) if rows else None
    return result


def _geocoding(conn: Any, settings: Settings, dataset: Any) -> dict:
    """Unmatched clusters of the dataset and the geocoder's requests today (shared by both datasets)."""
    if not conn.execute(load_sql("geocode_gazetteer_exists.sql")).fetchone()[0]:
        return {"unmatched_clusters": [], "geocoder": None}
    cur = conn.execute(table_sql("geocode_status.sql", dataset))
    unmatched = [
        {"region": region, "cluster": cluster, "tickets": tickets, "open": open_, "placed_by": placed_by}
        for region, cluster, tickets, open_, placed_by in cur
    ]
    provider = settings.geocoder_provider
    requests = (budget_state(conn, provider, settings.geocoder_daily_budget).as_dict() if provider != "offline"
                else {"provider": "offline", "today": 0, "daily_budget": 0, "left": 0, "stopped": None})
    requests.pop("day_utc", None)
    return {"unmatched_clusters": unmatched, "geocoder": requests}


def render_status(data: dict[str, dict]) -> str:
    lines = []
    for name, s in data.items():
        pending = "?" if s["pending_files"] is None else s["pending_files"]
        geo = ", ".join(f"{k} {v}" for k, v in s["geocoded"].items())
        placed = "-" if s.get("placed_pct") is None else f"{s['placed_pct']}%"
        lines += [
            f"{name}: watermark {s['watermark'] or '-'} ({s['watermark_eat']})",
            f"  pending files {pending}  applied files {s['files_applied']}"
            f"  rows {s['rows']}  open {s['open']}",
            f"  last run {s['last_run_at'] or 'never'} ({s['last_run_status'] or '-'})",
            *(f"  held back (dated ahead of now, not applied): {key}" for key in s.get("held_files", [])),
            *(["  an applied file was quarantined: the next run replays the whole stream"]
              if s.get("rebuild_required") else []),
            f"  geocoded: {geo} (placed {placed})",
        ]
        unmatched = s.get("unmatched_clusters") or []
        if unmatched:
            shown = ", ".join(f"{u['cluster'] or '(no cluster)'} ({u['region'] or '-'}) {u['tickets']}"
                              for u in unmatched[:8])
            more = f" and {len(unmatched) - 8} more" if len(unmatched) > 8 else ""
            lines.append(f"  unmatched clusters: {shown}{more}")
        requests = s.get("geocoder")
        if requests and requests["provider"] != "offline":
            lines.append(
                f"  geocoder {requests['provider']}: {requests['today']} requests today (UTC) of"
                f" {requests['daily_budget']}, {requests['left']} left"
                + (f"; stopped: {requests['stopped']}" if requests["stopped"] else "")
            )
        elif requests:
            lines.append("  geocoder offline: gazetteer and plus codes only, no requests")
    return "\n".join(lines)
