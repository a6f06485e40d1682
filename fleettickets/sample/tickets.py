"""What a ticket is made of: the per-dataset constants and the columns that never change."""

from __future__ import annotations

import random
from bisect import bisect
from typing import NamedTuple

from fleettickets.sample.text import alarm_summary, below, location, pick, source_ts
from fleettickets.sample.vocabulary import (
    ADDENDA,
    ALARM_PRIORITY,
    CLUSTER_CUM,
    CLUSTER_DATA,
    CRQ_SUMMARIES,
    FALSE_TEXTS,
    INC_SUMMARIES,
    PRIORITY,
    TRUE_TEXTS,
)

ALARM_BIT, NO_CAS_BIT = 1, 2  # a ticket's flags


class Spec(NamedTuple):
    """How one dataset's tickets differ from the other's."""

    prefix: str
    first_number: int
    salt: int  # mixed into the seed: INC and CRQ of one seed are different streams
    constants: tuple[str, str, str]  # source_type, department, service_type
    summaries: tuple[tuple[str, str], ...]


SPECS: dict[str, Spec] = {
    "inc": Spec("INC", 31_200_000, 1, ("daily_sheet", "Field Operations", "Home Fibre"), INC_SUMMARIES),
    "crq": Spec("CRQ", 1_200_000, 2, ("daily_sheet", "Installations", "Home Fibre"), CRQ_SUMMARIES),
}


class Static(NamedTuple):
    """A ticket's static columns, in row order, then its canonical region."""

    is_alarm: str
    is_actionable: str
    region_text: str
    cluster: str
    location: str
    customer_id: str
    summary: str
    category: str
    priority: str
    created_at_service: str
    region: str


def _kind_columns(r: random.Random, spec: Spec, alarm: bool, cluster: str) -> tuple[str, str, str, str, str]:
    """is_alarm, is_actionable, summary, category, priority: an alarm's or a customer's."""
    if alarm:
        is_alarm, is_actionable = pick(r, TRUE_TEXTS), pick(r, FALSE_TEXTS)
        summary, category = alarm_summary(r, cluster)
        return is_alarm, is_actionable, summary, category, pick(r, ALARM_PRIORITY)
    is_alarm = pick(r, FALSE_TEXTS)
    is_actionable = pick(r, TRUE_TEXTS if r.random() < 0.9 else FALSE_TEXTS)
    summary, category = pick(r, spec.summaries)
    if r.random() < 0.3:
        summary += pick(r, ADDENDA)
    return is_alarm, is_actionable, summary, category, pick(r, PRIORITY)


def static_columns(r: random.Random, spec: Spec, flags: int, tc: int) -> Static:
    """The columns that never change for a ticket; `r` is seeded per ticket."""
    cluster, region, lat, lng, _ = CLUSTER_DATA[bisect(CLUSTER_CUM, r.random())]
    x = r.random()
    region_text = region if x < 0.8 else region.upper() if x < 0.9 else region.lower()
    is_alarm, is_actionable, summary, category, priority = _kind_columns(
        r, spec, bool(flags & ALARM_BIT), cluster)
    location_text = location(r, cluster, region, lat, lng)
    customer_id = "" if r.random() < 0.02 else str(10_000_000 + below(r, 90_000_000))
    cas = "" if flags & NO_CAS_BIT else source_ts(r, tc)
    return Static(is_alarm, is_actionable, region_text, cluster, location_text, customer_id, summary,
                  category, priority, cas, region)
