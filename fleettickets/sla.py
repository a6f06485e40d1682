"""This week's SLA by the contract's rule and by the source's verdict: the `<ds>-sla` artifact.

The numbers come from reporting.fn_sla_compliance and reporting.fn_sla_reconciliation
(migrations/07_sla_reconciliation.sql, docs/reporting/): the source's `sla_status` and the 48 h
rule on the wall clock are only put side by side here, neither is recomputed from the other.
Both datasets have the artifact; CRQ keeps no history, so its open-ticket columns are unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import psycopg
from pydantic import SecretStr

from fleettickets.datasets import EAT, get_dataset
from fleettickets.db import connect, load_sql


@dataclass(frozen=True)
class SlaWeek:
    """One ISO week (EAT, Monday first) of closures: both verdicts and how often they disagree."""

    week_start: date
    week_end: date  # the last EAT day counted: today for the current week
    closed: int
    rule_within: int  # closed_at - created_at_service <= 48 h
    rule_breached: int
    no_clock: int  # no created_at_service (or closed_at): the rule cannot be applied
    rule_within_pct: Decimal | None  # rule_within / (rule_within + rule_breached)
    source_within: int  # sla_status 'Within SLA' (any case, surrounding spaces)
    source_breached: int
    source_within_pct: Decimal | None
    compared: int  # tickets with both a source verdict and a clock
    disagreements: int  # of those, where the two verdicts differ
    disagree_pct: Decimal | None
    open_as_of: datetime | None  # INC: the instant open tickets were counted (week end, or now)
    open_at_end: int | None  # None: not known (CRQ keeps no history, or before history began)
    open_breached_at_end: int | None

    def as_row(self) -> dict[str, str | int | float | None]:
        """A row of the table artifact (JSON values only)."""
        return {
            "week": f"{self.week_start:%Y-%m-%d} .. {self.week_end:%Y-%m-%d}",
            "closed": self.closed,
            "rule_within_pct": _num(self.rule_within_pct),
            "source_within_pct": _num(self.source_within_pct),
            "disagree_pct": _num(self.disagree_pct),
            "rule_within": self.rule_within,
            "rule_breached": self.rule_breached,
            "no_clock": self.no_clock,
            "source_within": self.source_within,
            "source_breached": self.source_breached,
            "compared": self.compared,
            "disagreements": self.disagreements,
            "open_breached_at_end": self.open_breached_at_end,
            "open_at_end": self.open_at_end,
        }


@dataclass(frozen=True)
class SlaReport:
    dataset: str
    as_of: datetime
    current: SlaWeek
    previous: SlaWeek

    def table(self) -> list[dict[str, str | int | float | None]]:
        return [self.current.as_row(), self.previous.as_row()]

    def description(self) -> str:
        """One paragraph for the artifact: this week first, by the rule, by the source, disagreement."""
        w = self.current
        open_now = (f" Open and past 48 h at {w.open_as_of.astimezone(EAT):%Y-%m-%d %H:%M} EAT:"
                    f" {w.open_breached_at_end} of {w.open_at_end}."
                    if w.open_as_of is not None and w.open_at_end is not None
                    else " Open tickets: not tracked (no history for this dataset)."
                    if self.dataset != "inc" else "")
        return (
            f"**{self.dataset} SLA, week of {w.week_start:%Y-%m-%d}** (to {w.week_end:%Y-%m-%d},"
            f" as of {self.as_of.astimezone(EAT):%Y-%m-%d %H:%M} EAT): {w.closed} closed."
            f" By the contract's 48 h rule {_pct(w.rule_within_pct)} within"
            f" ({w.rule_within} of {w.rule_within + w.rule_breached} with a clock; {w.no_clock} without)."
            f" By the source's verdict {_pct(w.source_within_pct)} within."
            f" The two disagree on {_pct(w.disagree_pct)} of the {w.compared} tickets both judge"
            f" ({w.disagreements})." + open_now
            + " Second row: the week before. Definitions: docs/reporting/fn_sla_compliance.md."
        )


def sla_report(conn: psycopg.Connection, dataset: str, as_of: datetime | None = None) -> SlaReport:
    """The current week and the one before, as of `as_of` (None: the database's now())."""
    get_dataset(dataset)  # an unknown dataset is a clear error before any SQL runs
    cur = conn.execute(load_sql("sla_weeks.sql"), {"dataset": dataset, "as_of": as_of})
    names = [c.name for c in cur.description]
    found = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    if len(found) != 2:  # fn_sla_compliance returns every period of the window, closures or not
        raise RuntimeError(f"sla_weeks.sql returned {len(found)} weeks for {dataset}, expected 2")
    weeks = [SlaWeek(week_start=r["period_start"], week_end=r["period_end"],
                     **{k: r[k] for k in names if k not in {"period_start", "period_end", "as_of"}})
             for r in found]
    return SlaReport(dataset=dataset, as_of=found[0]["as_of"], current=weeks[0], previous=weeks[1])


def load_sla_report(database_url: str | SecretStr, dataset: str) -> SlaReport:
    with connect(database_url, autocommit=True) as conn:
        return sla_report(conn, dataset)


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _pct(value: Decimal | None) -> str:
    return "-" if value is None else f"{value}%"
