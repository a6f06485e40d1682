"""Sending requests within the budget: pacing, Retry-After, day stops and outages.

A request is sent only after the shared budget (tickets.geocoder_budget) counted it; the
run's own cap (`run_limit`) comes on top. What ends a run's requests is kept in `stopped`,
so that both steps and the report can say why.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from fleettickets.geocode.budget import Budget
from fleettickets.geocode.providers import (
    DayLimitReached,
    ProviderUnavailable,
    RateLimited,
    SearchResult,
)

if TYPE_CHECKING:  # geopy is imported only when a provider is configured
    from fleettickets.geocode.geopy_client import GeocoderClient

MAX_RETRY_AFTER_SECONDS = 120.0  # a longer Retry-After ends this run's requests instead
MAX_RATE_LIMIT_RETRIES = 3  # per query
MAX_CONSECUTIVE_OUTAGES = 3  # 5xx / timeouts in a row end this run's requests
CANDIDATES_PER_QUERY = 5


class Requester:
    def __init__(self, client: GeocoderClient, budget: Budget, run_limit: int | None,
                 logger: logging.Logger | logging.LoggerAdapter) -> None:
        self.client = client
        self.budget = budget
        self.run_limit = run_limit
        self.log = logger
        self.requests = 0
        self.outages = 0
        self.stopped: str | None = None
        self.errors: list[str] = []

    def ask(self, query: str, *, near: tuple[float, float, float] | None = None,
            limit: int = CANDIDATES_PER_QUERY) -> SearchResult | None:
        """The provider's genuine answer, or None (not asked, or no answer: see `stopped`)."""
        rate_limited = 0
        while self.stopped is None:
            if self.run_limit is not None and self.requests >= self.run_limit:
                self.stopped = f"this run's budget of {self.run_limit} requests is spent"
                break
            slot = self.budget.reserve()
            if slot is None:
                state = self.budget.state()
                self.stopped = (f"stopped for the day: {state.stopped}" if state.stopped
                                else f"today's budget of {self.budget.daily_limit} requests is spent")
                break
            if slot.wait_seconds > 0:
                time.sleep(slot.wait_seconds)
            self.requests += 1
            try:
                result = self.client.search(query, near=near, limit=limit)
            except RateLimited as exc:
                rate_limited += 1
                wait = 1.0 if exc.retry_after is None else float(exc.retry_after)
                if wait > MAX_RETRY_AFTER_SECONDS or rate_limited > MAX_RATE_LIMIT_RETRIES:
                    self.stopped = f"rate limited (Retry-After {wait:.0f}s)"
                    break
                self.log.info("%s; waiting %.1fs as Retry-After asks", exc, wait)
                self.budget.back_off(wait)
                time.sleep(wait)
                continue
            except DayLimitReached as exc:
                self.budget.stop_for_day(str(exc))
                self.stopped = str(exc)
                self.log.warning("%s: no more requests until 00:00 UTC", exc)
                break
            except ProviderUnavailable as exc:
                self.outages += 1
                self.errors.append(str(exc))
                self.log.warning("%s; nothing cached, the next run asks again", exc)
                if self.outages >= MAX_CONSECUTIVE_OUTAGES:
                    self.stopped = f"{exc} {self.outages} times in a row"
                return None
            self.outages = 0
            return result
        return None
