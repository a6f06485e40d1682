"""Random draws and the texts made from them: timestamps, locations, alarm summaries.

Every function takes the `random.Random` to draw from; the number and order of draws is
part of the output (same seed, same bytes), so a change here changes every file.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from openlocationcode import openlocationcode

from fleettickets.sample.vocabulary import ALARMS, BAD_TIMES, BUILDINGS, LANDMARKS, MALLS, ROADS

DAY = 86_400
HOUR = 3_600
# Times are seconds since this naive epoch, read as EAT wall-clock time (the export's own).
EPOCH = datetime(1970, 1, 1)
_DATES: dict[int, str] = {}  # day number -> ISO date, a cache for ts()
T = TypeVar("T")


def pick(r: random.Random, seq: Sequence[T]) -> T:
    """r.choice, faster (one C call)."""
    return seq[int(r.random() * len(seq))]


def below(r: random.Random, n: int) -> int:
    """r.randrange(n), faster (one C call)."""
    return int(r.random() * n)


def ts(s: int) -> str:
    """Naive EAT 'YYYY-MM-DD HH:MM:SS' from seconds since the naive epoch."""
    day, second = divmod(s, DAY)
    date = _DATES.get(day)
    if date is None:
        date = _DATES[day] = (EPOCH + timedelta(days=day)).date().isoformat()
    hour, second = divmod(second, HOUR)
    minute, second = divmod(second, 60)
    return f"{date} {hour:02d}:{minute:02d}:{second:02d}"


def source_ts(r: random.Random, s: int) -> str:
    """A source timestamp: mostly plain, some ISO 'T', some fractional, a tiny few garbage."""
    x = r.random()
    if x < 0.88:
        return ts(s)
    if x < 0.94:
        text = ts(s)
        return f"{text[:10]}T{text[11:]}"
    if x < 0.975:
        return f"{ts(s)}.{below(r, 1_000_000):06d}"
    if x < 0.997:
        text = ts(s)
        return f"{text[:10]}T{text[11:]}.{below(r, 1000):03d}"
    return pick(r, BAD_TIMES)


def plus_code(lat: float, lng: float) -> str:
    """A 10-digit Open Location Code (e.g. '6GCRPR6C+24'), by the reference implementation."""
    return openlocationcode.encode(lat, lng, 10)


def _plus_code_location(r: random.Random, cluster: str, lat: float, lng: float) -> str:
    """A plus code near the cluster: full, short with the cluster, or after a building."""
    code = plus_code(lat + r.uniform(-0.015, 0.015), lng + r.uniform(-0.015, 0.015))
    y = r.random()
    if y < 0.4:
        return code
    if y < 0.8:
        return f"{code[4:]} {cluster}"
    return f"{pick(r, BUILDINGS)}, {code[4:]} {cluster}"


def _apartment(r: random.Random, cluster: str, region: str, road: str) -> list[str]:
    apt = f"{pick(r, BUILDINGS)} Apt {pick(r, 'ABCD')}{1 + below(r, 24)}"
    return [apt, road, pick(r, LANDMARKS)]


def _landmark_first(r: random.Random, cluster: str, region: str, road: str) -> list[str]:
    landmark = pick(r, LANDMARKS)
    return [landmark[0].upper() + landmark[1:], cluster]


# The nine shapes of a free-text address, drawn uniformly: f(r, cluster, region, road) -> parts.
# Each draws in the order its text reads.
_ADDRESS_SHAPES: tuple[Callable[[random.Random, str, str, str], list[str]], ...] = (
    lambda r, cluster, region, road: [pick(r, BUILDINGS), road],
    lambda r, cluster, region, road: [
        f"{pick(r, BUILDINGS)} Hse No. {1 + below(r, 120)}", pick(r, LANDMARKS)],
    lambda r, cluster, region, road: [road, pick(r, LANDMARKS)],
    lambda r, cluster, region, road: [f'Opp. "{pick(r, MALLS[region])}" mall', road],
    lambda r, cluster, region, road: [
        cluster, road, f"Block {pick(r, 'ABCDEFG')} Apt {1 + below(r, 40)}"],
    lambda r, cluster, region, road: [f"Plot {100 + below(r, 9900)}/{1 + below(r, 300)} off {road}"],
    _landmark_first,
    lambda r, cluster, region, road: [f"House {1 + below(r, 80)} {pick(r, BUILDINGS)}"],
    _apartment,
)


def location(r: random.Random, cluster: str, region: str, lat: float, lng: float) -> str:
    """The location cell: N/A or empty now and then, a plus code in ~3%, else an address
    (commas, quotes and the odd line break included)."""
    x = r.random()
    if x < 0.015:
        return "N/A"
    if x < 0.03:
        return ""
    if x < 0.06:
        return _plus_code_location(r, cluster, lat, lng)
    road = pick(r, ROADS[region])
    parts = _ADDRESS_SHAPES[below(r, len(_ADDRESS_SHAPES))](r, cluster, region, road)
    if len(parts) > 1 and r.random() < 0.07:
        return "\n".join(parts)
    return ", ".join(parts)


def alarm_summary(r: random.Random, cluster: str) -> tuple[str, str]:
    """An NOC alarm's summary and category, with made-up ONT, OLT and port names."""
    template, category = pick(r, ALARMS)
    site = cluster.replace(" ", "").replace("'", "")[:3].upper()
    summary = template.format(
        ont=f"HWTC{r.getrandbits(32):08X}",
        olt=f"OLT-{site}-{1 + below(r, 12):02d}",
        port=f"{below(r, 2)}/{1 + below(r, 16)}/{below(r, 16)}",
        dbm=f"{r.uniform(27.0, 34.0):.1f}",
    )
    return summary, category
