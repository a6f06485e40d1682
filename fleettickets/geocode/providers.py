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

The geopy side lives in geopy_client.py, imported only when a provider is configured: an
offline run (and every run's start-up) does not pay for geopy and requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from fleettickets import config
from fleettickets.config import ConfigurationError, Settings, secret_origin

if TYPE_CHECKING:
    from fleettickets.geocode.geopy_client import GeocoderClient

PROVIDERS = config.PROVIDERS
LOCATIONIQ_URL = "https://us1.locationiq.com"
USER_AGENT = "fleettickets/0.1 (ISP field-operations ticket geocoding)"


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


@dataclass
class SearchResult:
    status: Literal["ok", "miss"]  # places found, or a genuine "nothing here"
    places: list[dict] = field(default_factory=list)  # raw candidates, best first as ranked
    request: dict = field(default_factory=dict)  # parameters sent, never the key
    raw: Any = None  # the response as received (list of places, or the error body of a miss)


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
    from fleettickets.geocode.geopy_client import GeocoderClient, LocationIQ, NominatimServer, no_retries

    timeout = settings.geocoder_timeout_seconds
    key = settings.geocoder_api_key.get_secret_value() if settings.geocoder_api_key else None
    if provider == "locationiq":
        if not key:
            raise ProviderConfigError("GEOCODER_PROVIDER=locationiq needs GEOCODER_API_KEY")
        scheme, domain = _domain(settings.geocoder_url or LOCATIONIQ_URL)
        geocoder = LocationIQ(key, domain=domain, scheme=scheme, timeout=timeout,
                              user_agent=USER_AGENT, adapter_factory=no_retries)
        return GeocoderClient("locationiq", geocoder, secret=key,
                              key_origin=secret_origin(settings.geocoder_api_key, "GEOCODER_API_KEY"))
    if provider == "nominatim":
        if not settings.geocoder_url:
            raise ProviderConfigError("GEOCODER_PROVIDER=nominatim needs GEOCODER_URL (the server to use)")
        scheme, domain = _domain(settings.geocoder_url)
        geocoder = NominatimServer(domain=domain, scheme=scheme, timeout=timeout, user_agent=USER_AGENT,
                                   adapter_factory=no_retries)
        return GeocoderClient("nominatim", geocoder, secret=key)
    raise ProviderConfigError(f"GEOCODER_PROVIDER must be one of {', '.join(PROVIDERS)}, got {provider!r}")


def __getattr__(name: str) -> Any:
    """The geopy-backed classes, from geopy_client.py on first use (as before the split)."""
    if name in ("GeocoderClient", "LocationIQ", "NominatimServer"):
        from fleettickets.geocode import geopy_client

        return getattr(geopy_client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DayLimitReached", "ProviderConfigError", "ProviderError", "ProviderUnavailable", "RateLimited", "SearchResult",
    "make_client",
]
