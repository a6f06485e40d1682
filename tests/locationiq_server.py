"""A local HTTP server that speaks LocationIQ's forward-geocoding protocol, for the tests.

`GET /v1/search?key=...&q=...&format=json&countrycodes=ke&limit=N[&viewbox=...]`:

- a wrong or missing key: 401 {"error": "Invalid key"}
- a known address: 200 with a JSON list of places (string lat/lon, boundingbox, ...)
- anything else: 404 {"error": "Unable to geocode"}
- scripted or mode-driven failures: 429 {"error": "Rate Limited Second"} / "Rate Limited
  Minute" with Retry-After, 429 {"error": "Rate Limited Day"}, 402, 403, 500, and answers
  slower than the client's timeout.

`GET /search?...` is plain Nominatim (no key; a miss is 200 with `[]`), for the `nominatim`
provider.

Answers come from ADDRESSES: the first entry whose key (normalised) occurs in the normalised
query wins. Some are deliberately answered in the wrong town.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# key -> candidates, best first: (display name, lat, lon, class, type, importance)
ADDRESSES: dict[str, list[tuple[str, float, float, str, str, float]]] = {
    # Kilimani, Nairobi: answered where it is
    "argwings kodhek": [
        ("Argwings Kodhek Road, Kilimani, Nairobi", -1.29349, 36.78838, "highway", "primary", 0.51),
    ],
    # Nyali, Mombasa: the only answer is Moi Avenue in *Nairobi*, 440 km away (wrong town)
    "moi avenue": [("Moi Avenue, Nairobi Central, Nairobi", -1.28330, 36.82600, "highway", "primary", 0.55)],
    # Nakuru: Nairobi's Kenyatta Avenue ranks first, Nakuru's second
    "kenyatta avenue": [
        ("Kenyatta Avenue, Nairobi Central, Nairobi", -1.28560, 36.82190, "highway", "primary", 0.6),
        ("Kenyatta Avenue, Nakuru", -0.28690, 36.06630, "highway", "secondary", 0.4),
    ],
    "links road": [("Links Road, Nyali, Mombasa", -4.03020, 39.71200, "highway", "secondary", 0.45)],
    "oginga odinga street": [("Oginga Odinga Street, Kisumu", -0.10300, 34.75400, "highway", "primary", 0.5)],
    "kanduyi road": [("Kanduyi Road, Bungoma", 0.57000, 34.56000, "highway", "primary", 0.35)],
    # "Rongai" is two towns 170 km apart: the answer offers both
    "rongai stage": [
        ("Rongai Stage, Rongai, Nakuru", -0.17100, 35.86500, "highway", "bus_stop", 0.3),
        ("Rongai Stage, Ongata Rongai, Kajiado", -1.39600, 36.76000, "highway", "bus_stop", 0.3),
    ],
    # a cluster the gazetteer does not know (geocoded as `cluster, region, Kenya`)
    "kwa mbao": [("Kwa Mbao, Nairobi", -1.25000, 36.95000, "place", "suburb", 0.2)],
}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower().replace("'", "")).strip()


def _place(i: int, name: str, lat: float, lon: float, cls: str, typ: str, importance: float) -> dict:
    return {
        "place_id": str(300000 + i),
        "licence": "https://locationiq.com/attribution",
        "osm_type": "way",
        "osm_id": str(1000 + i),
        "boundingbox": [f"{v:.7f}" for v in (lat - 0.002, lat + 0.002, lon - 0.002, lon + 0.002)],
        "lat": f"{lat:.7f}",
        "lon": f"{lon:.7f}",
        "display_name": name + ", Kenya",
        "class": cls,
        "type": typ,
        "importance": importance,
    }


class FakeLocationIQ:
    """Start with `with FakeLocationIQ() as server:`; `server.url`, `server.requests`."""

    def __init__(self, key: str = "pk.test-0123456789abcdef-SECRET", retry_after: int = 1) -> None:
        self.key = key
        self.retry_after = retry_after
        self.script: deque = deque()  # forced responses for the next requests, in order
        self.mode: str | None = None  # "outage" | "slow" | None
        self.slow_seconds = 2.0
        self.day_limit_after: int | None = None  # answers before every request gets "Rate Limited Day"
        self.requests: list[dict] = []  # every request that reached /v1/search (params without key)
        self._answered = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ---
    def __enter__(self) -> FakeLocationIQ:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's name
                fake._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def queries(self) -> list[str]:
        with self._lock:
            return [r["q"] for r in self.requests]

    # --- protocol ---
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        nominatim = parts.path.endswith("/search") and not parts.path.endswith("/v1/search")
        if parts.path != "/v1/search" and not nominatim:
            return self._send(h, 404, {"error": "Invalid Request"})
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        key = params.pop("key", None)
        if key != self.key and not nominatim:
            return self._send(h, 401, {"error": "Invalid key"})
        with self._lock:
            self.requests.append(params | {"at": time.monotonic()})
            forced = self.script.popleft() if self.script else None
            day_limited = self.day_limit_after is not None and self._answered >= self.day_limit_after
        action = forced or ("day" if day_limited else self.mode)
        if action in ("second", "minute"):
            body = {"error": f"Rate Limited {action.title()}"}
            return self._send(h, 429, body, {"Retry-After": str(self.retry_after)})
        if action == "day":
            return self._send(h, 429, {"error": "Rate Limited Day"}, {"Retry-After": "3600"})
        if action == "402":
            return self._send(h, 402, {"error": "Payment Required"})
        if action == "403":
            return self._send(h, 403, {"error": "Access restricted"})
        if action in ("outage", "500"):
            return self._send(h, 500, {"error": "Internal Server Error"})
        if action == "slow":
            time.sleep(self.slow_seconds)
        with self._lock:
            self._answered += 1
        q = _norm(params.get("q", ""))
        for needle, candidates in ADDRESSES.items():
            if needle in q:
                limit = int(params.get("limit", "10"))
                body = [_place(i, *c) for i, c in enumerate(candidates)][:limit]
                return self._send(h, 200, body)
        if nominatim:
            return self._send(h, 200, [])
        return self._send(h, 404, {"error": "Unable to geocode"})

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: object, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json; charset=utf-8")
            h.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                h.send_header(name, value)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            pass
