"""The geocoding providers' geopy side (fleettickets/geocode/providers.py has the outcomes and
`make_client`): LocationIQ and Nominatim-compatible servers, each failure sorted into what the
caller does. Imported only when a provider is configured."""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

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

from fleettickets.geocode.providers import (
    DayLimitReached,
    ProviderConfigError,
    ProviderUnavailable,
    RateLimited,
    SearchResult,
)

_KEY_IN_URL = re.compile(r"([?&]key=)[^&\s'\"]*", re.I)


class DailyQuotaExceeded(GeocoderQuotaExceeded):
    """geopy-level: LocationIQ's 429 "Rate Limited Day" (a per-second 429 stays GeocoderRateLimited)."""


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


def no_retries(**kwargs: Any) -> RequestsAdapter:
    # requests' default adapter here retries twice: three paid requests for one slow answer.
    return RequestsAdapter(max_retries=0, **kwargs)
