"""Geocoding providers through geopy, with every failure mode sorted into what the caller does.

- `locationiq`: LocationIQ's `/v1/search` (Nominatim-compatible, keyed): a `Nominatim`
  subclass, like geopy's PickPoint.
- `nominatim`: any Nominatim-compatible server at GEOCODER_URL.
- `offline`: no client at all (gazetteer and plus codes only).

`GeocoderClient.search` returns a `SearchResult` for a genuine answer (hits, or a miss:
LocationIQ's 404 "Unable to geocode", an empty list, a rejected query) and raises for
everything else, so that nothing but a genuine answer can ever be cached:

| response | raises | the caller |
| --- | --- | --- |
| 429 "Rate Limited Second" / "Minute" | `RateLimited(retry_after)` | waits Retry-After, asks again |
| 429 "Rate Limited Day", 402, 403 | `DayLimitReached` | stops requests until 00:00 UTC |
| 401 (and a missing key or URL) | `ProviderConfigError` | fails the task loudly |
| 5xx, timeout, connection error, garbage | `ProviderUnavailable` | leaves it for the next run |

geopy's RateLimiter is deliberately not used: it swallows errors into None, which would
turn an outage into a cached miss. No message raised from here contains the API key or
a request URL (exceptions are re-raised `from None`, and geopy's/urllib3's debug lines
that print the URL are redacted).
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from geopy.adapters import AdapterHTTPError, RequestsAdapter
from geopy.exc import (
    GeocoderAuthenticationFailure,
    GeocoderInsufficientPrivileges,
    GeocoderQueryError,
    GeocoderQuotaExceeded,
    GeocoderRateLimited,
    GeopyError,
)
from geopy.geocoders import Nominatim
from geopy.geocoders.base import DEFAULT_SENTINEL, NONE_RESULT

from fleettickets import config
from fleettickets.config import ConfigurationError, Settings, secret_origin

PROVIDERS = config.PROVIDERS
LOCATIONIQ_URL = "https://us1.locationiq.com"
USER_AGENT = "fleettickets/0.1 (ISP field-operations ticket geocoding)"
_KEY_IN_URL = re.compile(r"([?&]key=)[^&\s'\"]*", re.I)


class ProviderError(Exception):
    """A provider answer that is not an answer (never cached)."""


class RateLimited(ProviderError):
    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DayLimitReached(ProviderError):
    """The provider will not answer again today (daily limit, quota, forbidden)."""


class ProviderUnavailable(ProviderError):
    """Outage: 5xx, timeout, connection failure, unreadable body."""


class ProviderConfigError(ConfigurationError):
    """401, or a provider configured without what it needs; fails the task."""


class DailyQuotaExceeded(GeocoderQuotaExceeded):
    """geopy-level: LocationIQ's 429 "Rate Limited Day" (a per-second 429 stays GeocoderRateLimited)."""


@dataclass
class SearchResult:
    status: Literal["ok", "miss"]  # places found, or a genuine "nothing here"
    places: list[dict] = field(default_factory=list)  # raw candidates, best first as ranked
    request: dict = field(default_factory=dict)  # parameters sent, never the key
    raw: Any = None  # the response as received (list of places, or the error body of a miss)


def _error_message(text: str | None) -> str:
    if not text:
        return ""
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:200]
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or "")[:200]
    return ""


class _SortsErrors:
    """Mixed into the geopy geocoders: misses become None, a day limit its own exception."""

    last_miss: dict | None = None

    def _geocoder_exception_handler(self, error: Exception) -> object:
        if not isinstance(error, AdapterHTTPError):
            return None
        message = _error_message(error.text)
        if error.status_code == 404:  # LocationIQ: {"error": "Unable to geocode"}
            self.last_miss = {"status": 404, "error": message or "not found"}
            return NONE_RESULT
        if error.status_code == 429 and "day" in message.lower():
            raise DailyQuotaExceeded(f"HTTP 429 {message}")
        return None


class LocationIQ(_SortsErrors, Nominatim):
    """LocationIQ forward geocoding: Nominatim's protocol at /v1/search with `key=`."""

    geocode_path = "/v1/search"
    reverse_path = "/v1/reverse"

    def __init__(self, api_key: str, *, domain: str = "us1.locationiq.com", scheme: str | None = None,
                 timeout: float = DEFAULT_SENTINEL, user_agent: str | None = None,
                 adapter_factory: Any = None) -> None:
        super().__init__(timeout=timeout, domain=domain, scheme=scheme, user_agent=user_agent,
                         adapter_factory=adapter_factory)
        self.api_key = api_key

    def __repr__(self) -> str:  # the key stays out of reprs
        return f"LocationIQ(domain={self.domain!r})"

    def _construct_url(self, base_api: str, params: dict) -> str:
        params["key"] = self.api_key
        return super()._construct_url(base_api, params)


class NominatimServer(_SortsErrors, Nominatim):
    """Any Nominatim-compatible server (self-hosted, or a commercial clone with Nominatim's paths)."""


def _redact(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    if "key=" in message.lower():
        record.msg, record.args = _KEY_IN_URL.sub(r"\1***", message), ()
    return True


for _name in ("geopy", "urllib3.connectionpool"):  # both print request URLs at DEBUG
    logging.getLogger(_name).addFilter(_redact)


class GeocoderClient:
    """One provider, one `search` call per request; see the module docstring for outcomes."""

    def __init__(self, name: str, geocoder: Nominatim, *, secret: str | None = None,
                 key_origin: str = "GEOCODER_API_KEY") -> None:
        self.name = name
        self._geocoder = geocoder
        self._secret = secret
        self.key_origin = key_origin  # what to fix when the key is refused: the variable or its block

    def __repr__(self) -> str:
        return f"GeocoderClient({self.name!r})"

    def scrub(self, value: Any) -> Any:
        """The value with the secret (if it ever came back in a body) replaced."""
        if not self._secret:
            return value
        text = json.dumps(value)
        if self._secret not in text:
            return value
        return json.loads(text.replace(self._secret, "***"))

    def search(self, query: str, *, near: tuple[float, float, float] | None = None,
               limit: int = 5) -> SearchResult:
        """Ask for `query` in Kenya; `near` = (lat, lon, radius_km) biases to a viewbox around it."""
        request: dict[str, Any] = {"q": query, "countrycodes": "ke", "limit": limit, "format": "json"}
        viewbox = None
        if near is not None:
            lat, lon, radius = near
            dlat = radius / 111.32
            dlon = radius / (111.32 * max(math.cos(math.radians(lat)), 0.01))
            viewbox = [(lat - dlat, lon - dlon), (lat + dlat, lon + dlon)]
            request["viewbox"] = f"{lon - dlon:.5f},{lat - dlat:.5f},{lon + dlon:.5f},{lat + dlat:.5f}"
        self._geocoder.last_miss = None
        try:
            found = self._geocoder.geocode(query, exactly_one=False, limit=limit, country_codes="ke",
                                           viewbox=viewbox)
        except DailyQuotaExceeded:
            raise DayLimitReached(f"{self.name}: daily limit reached (HTTP 429 Rate Limited Day)") from None
        except GeocoderRateLimited as exc:
            raise RateLimited(f"{self.name}: rate limited (HTTP 429)", exc.retry_after) from None
        except GeocoderQuotaExceeded:
            raise DayLimitReached(f"{self.name}: quota exceeded (HTTP 402)") from None
        except GeocoderInsufficientPrivileges:
            raise DayLimitReached(f"{self.name}: requests refused (HTTP 403)") from None
        except GeocoderAuthenticationFailure:
            raise ProviderConfigError(
                f"{self.name} rejected the API key (HTTP 401): check {self.key_origin}") from None
        except GeocoderQueryError as exc:
            # 400-class answer to this query: a genuine "cannot answer", cached as a miss.
            status = getattr(exc.__cause__, "status_code", None)
            return SearchResult("miss", request=request, raw={"status": status, "error": "query rejected"})
        except GeopyError as exc:
            cause = exc.__cause__
            what = f"HTTP {cause.status_code}" if isinstance(cause, AdapterHTTPError) else type(exc).__name__
            raise ProviderUnavailable(f"{self.name} unavailable ({what})") from None
        except (OSError, ValueError) as exc:  # anything the adapter let through
            raise ProviderUnavailable(f"{self.name} unavailable ({type(exc).__name__})") from None
        if not found:
            return SearchResult("miss", request=request, raw=self.scrub(self._geocoder.last_miss or []))
        places = [self.scrub(location.raw) for location in found]
        return SearchResult("ok", places=places, request=request, raw=places)


def _no_retries(**kwargs: Any) -> RequestsAdapter:
    # requests' default adapter here retries twice: three paid requests for one slow answer.
    return RequestsAdapter(max_retries=0, **kwargs)


def _domain(url: str, variable: str = "GEOCODER_URL") -> tuple[str, str]:
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProviderConfigError(f"{variable} must be an http(s) URL")
    return parts.scheme, (parts.netloc + parts.path).rstrip("/")


def make_client(settings: Settings) -> GeocoderClient | None:
    """The configured provider's client, or None for `offline`."""
    provider = settings.geocoder_provider
    if provider == "offline":
        return None
    timeout = settings.geocoder_timeout_seconds
    key = settings.geocoder_api_key.get_secret_value() if settings.geocoder_api_key else None
    if provider == "locationiq":
        if not key:
            raise ProviderConfigError("GEOCODER_PROVIDER=locationiq needs GEOCODER_API_KEY")
        scheme, domain = _domain(settings.geocoder_url or LOCATIONIQ_URL)
        geocoder = LocationIQ(key, domain=domain, scheme=scheme, timeout=timeout,
                              user_agent=USER_AGENT, adapter_factory=_no_retries)
        return GeocoderClient("locationiq", geocoder, secret=key,
                              key_origin=secret_origin(settings.geocoder_api_key, "GEOCODER_API_KEY"))
    if provider == "nominatim":
        if not settings.geocoder_url:
            raise ProviderConfigError("GEOCODER_PROVIDER=nominatim needs GEOCODER_URL (the server to use)")
        scheme, domain = _domain(settings.geocoder_url)
        geocoder = NominatimServer(domain=domain, scheme=scheme, timeout=timeout, user_agent=USER_AGENT,
                                   adapter_factory=_no_retries)
        return GeocoderClient("nominatim", geocoder, secret=key)
    raise ProviderConfigError(f"GEOCODER_PROVIDER must be one of {', '.join(PROVIDERS)}, got {provider!r}")


__all__ = [
    "DayLimitReached", "GeocoderClient", "LocationIQ", "NominatimServer", "ProviderConfigError",
    "ProviderError", "ProviderUnavailable", "RateLimited", "SearchResult", "make_client",
]
