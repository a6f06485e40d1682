"""The daily request budget, kept in tickets.geocoder_budget and shared by every run.

A request is sent only after `reserve()` has counted it in one atomic statement, so
concurrent runs of both flows can never spend more than the day's budget together. The
same statement hands out request slots `GEOCODER_MIN_DELAY_SECONDS` apart across all
runs. The day is the UTC day: LocationIQ resets its counters at 00:00 UTC.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import psycopg

from fleettickets.db import load_sql


@dataclass(frozen=True)
class Slot:
    requests_today: int  # including this one
    wait_seconds: float  # until this request may be sent


class Budget:
    def __init__(self, conn: psycopg.Connection, provider: str, daily_limit: int, min_delay: float) -> None:
        self.conn = conn
        self.provider = provider
        self.daily_limit = daily_limit
        self.min_delay = min_delay

    def reserve(self) -> Slot | None:
        """Count one request against today; None when the day is spent or stopped."""
        row = self.conn.execute(load_sql("geocode_budget_reserve.sql"), {
            "provider": self.provider, "limit": self.daily_limit, "delay": self.min_delay,
        }).fetchone()
        return Slot(row[0], float(row[1])) if row else None

    def stop_for_day(self, reason: str) -> None:
        self.conn.execute(load_sql("geocode_budget_stop.sql"), {"provider": self.provider, "reason": reason})

    def back_off(self, seconds: float) -> None:
        """No run sends the next request before `seconds` from now (a 429's Retry-After)."""
        self.conn.execute(load_sql("geocode_budget_backoff.sql"),
                          {"provider": self.provider, "seconds": seconds})

    def state(self) -> BudgetState:
        return budget_state(self.conn, self.provider, self.daily_limit)


@dataclass(frozen=True)
class BudgetState:
    """A provider's requests today (UTC) against its daily budget."""

    provider: str
    day_utc: str | None  # ISO date; None before the day's first request
    today: int
    daily_budget: int
    left: int
    stopped: str | None  # why requests stopped for the day, if they did

    def as_dict(self) -> dict:
        return asdict(self)


def budget_state(conn: psycopg.Connection, provider: str, daily_limit: int) -> BudgetState:
    row = conn.execute(load_sql("geocode_budget_state.sql"), {"provider": provider}).fetchone()
    spent, stopped = (row[0], row[1]) if row else (0, None)
    return BudgetState(provider=provider, day_utc=row[2].isoformat() if row else None, today=spent,
                       daily_budget=daily_limit, left=0 if stopped else max(daily_limit - spent, 0),
                       stopped=stopped)
