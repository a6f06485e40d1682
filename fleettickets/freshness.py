"""Is the exporter keeping up? Only asked inside the export window (06:00-20:59 EAT)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from fleettickets.datasets import EAT

WINDOW_FIRST_HOUR, WINDOW_LAST_HOUR = 6, 20  # the exporter's cron: */20 6-20 * * * EAT


@dataclass(frozen=True)
class Freshness:
    stale: bool
    message: str
    age_minutes: float | None
    newest_file_ts: datetime | None = None  # the newest file seen: applied (the watermark) or listed


def stream_freshness(watermark: datetime | None, listed: Iterable[datetime], now: datetime,
                     stale_after_minutes: int) -> Freshness:
    """check_freshness of the newest file a run saw, applied or still listed."""
    newest = max(filter(None, [watermark, *listed]), default=None)
    return replace(check_freshness(newest, now, stale_after_minutes), newest_file_ts=newest)


def check_freshness(newest_file_ts: datetime | None, now: datetime, stale_after_minutes: int) -> Freshness:
    """Stale when, inside the window, the newest file is older than the limit (0 disables)."""
    local = now.astimezone(EAT)
    if newest_file_ts is None:
        return Freshness(False, "no change file seen yet", None)
    age = (now - newest_file_ts) / timedelta(minutes=1)
    described = f"newest file is {_duration(age)} old ({newest_file_ts.astimezone(EAT):%Y-%m-%d %H:%M} EAT)"
    if stale_after_minutes <= 0:
        return Freshness(False, described + "; freshness check disabled", age)
    if not WINDOW_FIRST_HOUR <= local.hour <= WINDOW_LAST_HOUR:
        return Freshness(False, described + "; outside the 06:00-20:59 EAT export window", age)
    if age > stale_after_minutes:
        return Freshness(True, f"source is stale: {described}, limit {stale_after_minutes} min", age)
    return Freshness(False, described, age)


def _duration(minutes: float) -> str:
    hours, mins = divmod(int(minutes), 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{mins} min"]
    return " ".join(parts)
