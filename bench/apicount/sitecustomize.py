"""Counts the Prefect API calls of one process (bench/overhead.py puts this folder first on
PYTHONPATH): HTTP requests by method and path, and events emitted (task and flow run states
travel as events). Written as one JSON line to $FLEETTICKETS_BENCH_APICOUNT at exit."""

from __future__ import annotations

import atexit
import collections
import json
import os
import re

_COUNTS: collections.Counter[str] = collections.Counter()
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f-]{27}")


def _key(request: object) -> str:
    path = _ID.sub("{id}", str(getattr(request, "url", "")).split("/api", 1)[-1].split("?", 1)[0])
    return f"{getattr(request, 'method', '?')} {path}"


def _install() -> None:
    import httpx

    sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

    def send(self: httpx.Client, request: httpx.Request, *args: object, **kwargs: object) -> httpx.Response:
        _COUNTS[_key(request)] += 1
        return sync_send(self, request, *args, **kwargs)

    async def asend(self: httpx.AsyncClient, request: httpx.Request, *args: object, **kwargs: object) -> httpx.Response:
        _COUNTS[_key(request)] += 1
        return await async_send(self, request, *args, **kwargs)

    httpx.Client.send, httpx.AsyncClient.send = send, asend  # type: ignore[method-assign]
    try:
        from prefect.events.clients import PrefectEventsClient
    except ImportError:
        return
    emit = PrefectEventsClient._emit

    async def counted_emit(self: PrefectEventsClient, event: object) -> None:
        _COUNTS["event " + str(getattr(event, "event", "?"))] += 1
        await emit(self, event)

    PrefectEventsClient._emit = counted_emit  # type: ignore[method-assign]


def _write() -> None:
    with open(os.environ["FLEETTICKETS_BENCH_APICOUNT"], "a", encoding="utf-8") as out:
        out.write(json.dumps(dict(_COUNTS)) + "\n")


if os.environ.get("FLEETTICKETS_BENCH_APICOUNT"):
    _install()
    atexit.register(_write)
